#!/usr/bin/env python3
"""moto_server, with the one fix the project's emulator needs where moto differs from AWS.

moto 5 stores the UserData of a launch template version made by CreateLaunchTemplateVersion as a
plain string (CreateLaunchTemplate decodes it properly); an Auto Scaling group launching from such a
version then fails with a server error. Decode it the way CreateLaunchTemplate does.

Usage: emulator-moto.py -H 127.0.0.1 -p PORT   (the arguments of moto_server)
"""
import sys

from moto.ec2.models.launch_templates import LaunchTemplate
from moto.ec2.utils import parse_user_data
from moto.server import main

_create_version = LaunchTemplate.create_version


def _create_version_with_decoded_user_data(self, data, description):
    if isinstance(data, dict) and isinstance(data.get("UserData"), str):
        data = dict(data, UserData=parse_user_data(data["UserData"]))
    return _create_version(self, data, description)


LaunchTemplate.create_version = _create_version_with_decoded_user_data

if __name__ == "__main__":
    sys.exit(main())
