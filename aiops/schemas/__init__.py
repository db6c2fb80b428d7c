"""API request and response bodies (pydantic), spelled as the published reference."""
