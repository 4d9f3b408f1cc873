"""Quality assessment and the Copenhagen Framework record: engagement, gateway, scorecard, fitness."""
