"""The web studio (`studio serve`): a FastAPI app and its page; it generates through `studio.generation`."""

from studio.server.app import create_app

__all__ = ["create_app"]
