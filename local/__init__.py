"""The Docker-free local stack behind `make dev`. It reads template.yaml; src/ never imports it."""
