"""Expand a SAM template into plain CloudFormation with aws-sam-translator (run by the checkov venv's python).

Usage: python sam_expand.py TEMPLATE.yaml OUT.json. No AWS call: the functions name their roles, so no
managed policy has to be looked up.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse


def expand(template_path: Path) -> dict[str, object]:
    """The CloudFormation the SAM transform makes of the template."""
    sam_template = yaml_parse(template_path.read_text(encoding="utf-8"))
    # What `sam package` does to the local CodeUri: it becomes the uploaded artifact's S3 URI.
    sam_template["Globals"]["Function"]["CodeUri"] = "s3://artifacts/aurora-audit-alerts.zip"
    # The region only fills pseudo parameters; no call is made with this session.
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="none", aws_secret_access_key="none")
    translator = Translator(managed_policy_map={}, sam_parser=Parser(), boto_session=session)
    expanded: dict[str, object] = translator.translate(sam_template=sam_template, parameter_values={})
    return expanded


if __name__ == "__main__":
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    target.write_text(json.dumps(expand(source), indent=1), encoding="utf-8")
