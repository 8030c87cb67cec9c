# test_typelib.py: the typelib and the override load
#
# SPDX-License-Identifier: MIT

import os
import unittest

import pfttest  # noqa: F401  (require_version)
from gi.repository import Pft


class TestTypelib(unittest.TestCase):
    def test_version(self):
        self.assertEqual(Pft.get_version_string().count('.'), 2)
        self.assertTrue(Pft.get_version_string()[0].isdigit())

    def test_override_is_the_source_tree_one(self):
        import gi.overrides.Pft as override
        here = os.environ.get('PYTHONPATH', '').split(os.pathsep)[0]
        if here:
            self.assertTrue(os.path.realpath(override.__file__).startswith(os.path.realpath(here)),
                            override.__file__)
        self.assertIs(Pft.Node, override.Node)
        self.assertTrue(issubclass(Pft.BatchNode, override.Node))
        self.assertTrue(issubclass(Pft.Flow, override.Node))

    def test_error_domain(self):
        self.assertEqual(Pft.Error.RATE_LIMITED, 4)
        self.assertTrue(Pft.error_quark() != 0)


if __name__ == '__main__':
    unittest.main()
