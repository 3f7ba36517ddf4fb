"""Site: the static website researchers and donors see."""

from .render import environment, render_site, templates_dir

__all__ = ["environment", "render_site", "templates_dir"]
