"""paperwire: a self-hostable service that tells researchers which new papers matter."""

__version__ = "0.1.0"
