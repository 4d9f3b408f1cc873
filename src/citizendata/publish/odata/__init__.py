"""An OData v4 feed of a form's submissions in ODK Central's layout (see ``model``)."""

from citizendata.publish.odata.model import EntitySet, FormModel, build_model, sanitize
from citizendata.publish.odata.query import FeedQuery, parse_query

__all__ = ["EntitySet", "FeedQuery", "FormModel", "build_model", "parse_query", "sanitize"]
