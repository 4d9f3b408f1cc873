"""Protection of the people in the data: disclosure control, differential privacy, location, consent."""
