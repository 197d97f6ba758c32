"""The platform dashboard: static page plus a same-origin proxy to the read APIs."""
