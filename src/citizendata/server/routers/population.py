"""Routes for the population work of issue 20 (API and pages)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
