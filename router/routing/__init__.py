"""Routing: which model answers a request (candidates, objectives, scores), and the live state it keeps."""
