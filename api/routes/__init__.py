"""HTTP endpoints, one router per resource; ``api.app`` includes them all."""
