"""A helper module whose name the other twin uses too."""

NAME = "twin-a"
