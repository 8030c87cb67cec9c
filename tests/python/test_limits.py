# test_limits.py: bad numbers from Python, one behaviour per value
#
# The values tests/test-limits.c feeds through the C doors, fed through
# the doors a Python user has: the registry (register_new), a key file and
# properties. (The C constructor and setters treat a bad number as a
# programmer error, a critical, tested in C.) A value is accepted by every
# door or rejected by every door, and a rejected value changes nothing.
# How the caller is told depends on the door: GLib.Error (INVALID_ARGUMENT
# or PARSE, naming the key and the value), OverflowError for an integer
# the C type cannot hold, GObject's warning for a property.
#
# SPDX-License-Identifier: MIT

import math
import unittest
import warnings

from pfttest import GLib, Pft

NAME = 'python-limits-test'

# (value, accepted)
WINDOWS = [
    (0.0, False),
    (-1.0, False),
    (math.nan, False),
    (math.inf, False),
    (-math.inf, False),
    (1e-9, False),
    (1e-7, False),
    (1e300, False),
    (float(2**64 - 1), False),
    (1e-6, True),
    (60.0, True),
    (1e9, True),
]

# (key, value, accepted); a value that no C guint can hold is rejected
# before it reaches Pft, by PyGObject.
WHOLE = [
    ('max-concurrent', 0, False),
    ('max-concurrent', -1, False),
    ('max-concurrent', 2**32, False),
    ('max-concurrent', 2**64 - 1, False),
    ('max-concurrent', 2**32 - 1, True),
    ('burst', 0, False),
    ('burst', -1, False),
    ('burst', 2**32 - 1, True),
    ('max-per-window', 0, True),
    ('max-per-window', -1, False),
    ('max-per-window', 2**64 - 1, False),
    ('max-cost-per-window', 0, True),
    ('max-cost-per-window', -1, False),
    ('max-cost-per-window', 2**64 - 1, True),
]


def keyfile_text(value):
    if isinstance(value, float):
        if math.isnan(value):
            return 'nan'
        if math.isinf(value):
            return 'inf' if value > 0 else '-inf'
        return repr(value)
    return str(value)


class TestBadNumbers(unittest.TestCase):

    def setUp(self):
        self.registry = Pft.LimiterRegistry.get_default()
        self.registry.remove(NAME)

    def tearDown(self):
        self.registry.remove(NAME)

    def load(self, key, value):
        text = '[%s]\n%s = %s\n' % (NAME, key, keyfile_text(value))
        return self.registry.load_from_data(text, -1)

    def test_window(self):
        for value, accepted in WINDOWS:
            with self.subTest(window=value):
                # The key file.
                if accepted:
                    self.assertTrue(self.load('window', value))
                    got = self.registry.lookup(NAME)
                    self.assertEqual(got.props.window, value)
                    self.registry.remove(NAME)
                else:
                    with self.assertRaises(GLib.Error) as cm:
                        self.load('window', value)
                    self.assertTrue(cm.exception.matches(Pft.error_quark(), Pft.Error.PARSE))
                    self.assertIn('window', cm.exception.message)
                    self.assertFalse(self.registry.contains(NAME))

                # The registry.
                if accepted:
                    limiter = self.registry.register_new(NAME, 1, 1, value)
                    self.assertEqual(limiter.props.window, value)
                    self.registry.remove(NAME)
                else:
                    with self.assertRaises(GLib.Error) as cm:
                        self.registry.register_new(NAME, 1, 1, value)
                    self.assertTrue(cm.exception.matches(Pft.error_quark(),
                                                         Pft.Error.INVALID_ARGUMENT))
                    self.assertIn('window = ', cm.exception.message)
                    self.assertFalse(self.registry.contains(NAME))

                # The property: GObject's warning (from the same bounds).
                limiter = Pft.RateLimiter.new(1, 1, 30)
                with warnings.catch_warnings(record=True) as seen:
                    warnings.simplefilter('always')
                    limiter.props.window = value
                self.assertEqual(len(seen) == 0, accepted)
                self.assertEqual(limiter.props.window, value if accepted else 30)

    def test_whole_numbers(self):
        for key, value, accepted in WHOLE:
            with self.subTest(key=key, value=value):
                # The key file.
                if accepted:
                    self.assertTrue(self.load(key, value))
                    got = self.registry.lookup(NAME)
                    self.assertEqual(got.get_property(key), value)
                    self.registry.remove(NAME)
                else:
                    with self.assertRaises(GLib.Error) as cm:
                        self.load(key, value)
                    self.assertTrue(cm.exception.matches(Pft.error_quark(), Pft.Error.PARSE))
                    self.assertIn(key, cm.exception.message)
                    self.assertIn(str(value), cm.exception.message)
                    self.assertFalse(self.registry.contains(NAME))

                # The property: GObject's warning, or PyGObject's
                # exception for what the C type cannot hold.
                limiter = Pft.RateLimiter.new(3, 3, 30)
                before = limiter.get_property(key)
                raised = False
                with warnings.catch_warnings(record=True) as seen:
                    warnings.simplefilter('always')
                    try:
                        limiter.set_property(key, value)
                    except (OverflowError, TypeError, ValueError):
                        raised = True
                self.assertEqual(not raised and len(seen) == 0, accepted)
                self.assertEqual(limiter.get_property(key), value if accepted else before)

                # The registry, for the limit it takes.
                if key == 'max-concurrent':
                    if accepted:
                        self.registry.register_new(NAME, value, 1, 1)
                        self.registry.remove(NAME)
                    else:
                        with self.assertRaises((GLib.Error, OverflowError, TypeError, ValueError)):
                            self.registry.register_new(NAME, value, 1, 1)
                        self.assertFalse(self.registry.contains(NAME))

    def test_saturating_cost(self):
        # The largest cost limit is usable, and costs near it never wrap
        # the window's sum.
        limiter = Pft.RateLimiter.new(10, 0, 60)
        limiter.props.max_cost_per_window = 2**64 - 1
        first = limiter.try_acquire(2**63)
        self.assertIsNotNone(first)
        self.assertIsNone(limiter.try_acquire(2**63))
        first.release()


if __name__ == '__main__':
    unittest.main()
