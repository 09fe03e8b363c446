"""Probe: its own helper module, although the other twin has one of the same name."""

import os

import helper


def lambda_handler(event, context):
    return {"helper": helper.NAME, "variable": os.environ["TWIN_VARIABLE"]}
