# Pft.py: the PyGObject override of Pft
#
# SPDX-License-Identifier: MIT

"""Pythonic additions to the Pft bindings.

What this override changes, and why:

* Exceptions raised in a ``do_*`` vfunc of a subclass of ``Pft.Node`` (and
  so of every node and flow class) become ``GLib.Error``\\ s in the
  ``Pft.Error`` domain, code ``FAILED``, whose message starts with the
  exception type name (``"ValueError: bad input"``). Without this
  PyGObject prints the traceback and sets no error, and the engine would
  take the failure for a success. A ``GLib.Error`` is passed through as it
  is. Every ``BaseException`` is converted, ``KeyboardInterrupt`` included,
  since PyGObject would drop it anyway. ``do_exec_async`` has no error
  parameter: an exception there completes a task with the error, which
  the (wrapped or default) ``do_exec_finish`` raises. ``do_is_rate_limit``
  has none either: an exception there prints the traceback and counts as
  "not a rate limit". The wrapping is done by
  ``Pft.Node.__init_subclass__``, which runs before PyGObject's metaclass
  hooks up the vfuncs, so it covers ``do_*`` methods defined in a class
  body; methods attached to a class after it was created are not wrapped.

* Values returned by ``do_prep``, ``do_exec``, ``do_exec_finish`` and
  ``do_exec_fallback`` are given an explicit type, so that PyGObject does
  not have to guess (it guesses ``gint`` for an ``int`` and overflows, and
  reads a returned ``tuple`` as several out values): ``int`` is a
  ``gint64`` (a ``PyObject`` beyond 64 bits), ``float`` a ``gdouble``,
  ``bool`` a ``gboolean``, ``str`` a string, a ``GObject.Object`` or
  ``GLib.Variant`` keeps its type, a ``list`` or ``tuple`` becomes a
  ``Pft.Values``, ``None`` a ``NULL`` pointer (what the engine means by
  "no value"), and anything else (``dict``, ``bytes``, instances of Python
  classes) travels as a ``PyObject``: opaque to C and other languages,
  the same object again in Python. In the ``prep`` of a
  ``Pft.BatchFlow`` each ``dict`` of the returned list becomes an
  ``a{sv}`` param set (see :func:`variant_from_python`). A returned
  ``GObject.Value`` that holds a pointer (string, object, boxed) is
  unwrapped first: PyGObject 3.42 copies such a value into the C result
  without a reference and frees it with the wrapper. Values handed to
  ``Gio.Task.return_value()`` are not converted; wrap an ``int`` with
  :func:`value_from_python` there.

* ``Pft.Values`` is list-like, ``Pft.Store`` dict-like (both convert as
  above when written), ``Pft.Context`` has ``params`` (a ``dict``) and
  ``store``.

* ``a >> b`` and ``a - "action" >> b`` connect nodes as in PocketFlow;
  ``node.run()`` creates a store when none is given.

* Knobs as class attributes, the way the seed's README writes them::

      class TranslateNode(Pft.ThrottledBatchNode):
          preset = "openai_tier1"    # optional, applied first
          max_concurrent = 5
          max_per_minute = 60

  A class attribute of a ``Pft.Node`` subclass whose name, with ``_`` ->
  ``-``, is a writable property of the class sets that property on every
  new instance (``max_retries``, ``wait``, ``initial_concurrent``,
  ``max_concurrent_flows``, ``name``, ...); a subclass's attribute wins
  over its parent's, keyword arguments win over both, and a ``preset``
  (class attribute or keyword) is applied before all of them. ``None``
  for a count means 0 (no limit), a ``dict`` for ``params`` becomes an
  ``a{sv}``, a ``str`` for ``limiter`` names a limiter of the default
  registry. Such an attribute reads as its class value on the class and
  as the live property on an instance (``node.max_concurrent`` ==
  ``node.props.max_concurrent``; assigning it sets the property).
  Read-only properties (``total``, ...) are not knobs: a class attribute
  of that name stays a plain attribute. Applied in ``__init__``: an
  instance created from C with ``g_object_new()`` does not get them.
  ``node.stats`` returns the counters of a throttled or adaptive node or
  flow as a ``dict``.

* ``Pft.RateLimited(retry_after, source, message)`` builds the
  ``GLib.Error`` to raise when a provider rate-limits a call.
"""

import sys
import functools
import traceback

from ..overrides import override
from ..module import get_introspection_module

from gi.repository import GLib, GObject

Pft = get_introspection_module('Pft')

# PFT_ERROR is an extended error domain (it carries a retry-after), which
# GLib registers on the first call of pft_error_quark(). PyGObject makes
# GErrors of a domain from its name (g_quark_from_string), so a
# GLib.Error('...', 'pft-error-quark', code) raised before that call would
# lack the private data the engine's g_error_copy()/g_error_free() use,
# and corrupt the heap. Register the domain now.
Pft.error_quark()

__all__ = []

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


# ------------------------------------------------------------------ #
# Python values <-> GValues and GVariants                              #

def variant_from_python(value):
    """Converts a Python value to a ``GLib.Variant`` for an ``a{sv}`` param set.

    ``bool`` -> ``b``, ``int`` -> ``x``, ``float`` -> ``d``, ``str`` -> ``s``,
    ``bytes`` -> ``ay``, a ``GLib.Variant`` is kept, a ``dict`` with string
    keys -> ``a{sv}``, a list or tuple of strings -> ``as``, any other list
    or tuple -> ``av``. Raises ``TypeError`` for anything else (including
    ``None``: a variant cannot hold "nothing" in an ``a{sv}`` without a
    type).
    """
    if isinstance(value, GLib.Variant):
        return value
    if isinstance(value, bool):
        return GLib.Variant('b', value)
    if isinstance(value, int):
        return GLib.Variant('x', value)
    if isinstance(value, float):
        return GLib.Variant('d', value)
    if isinstance(value, str):
        return GLib.Variant('s', value)
    if isinstance(value, (bytes, bytearray)):
        return GLib.Variant('ay', bytes(value))
    if isinstance(value, dict):
        return _vardict(value)
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, str) for v in value):
            return GLib.Variant('as', list(value))
        return GLib.Variant('av', [variant_from_python(v) for v in value])
    raise TypeError('cannot convert %s to a GLib.Variant' % type(value).__name__)


def _vardict(mapping):
    items = {}
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise TypeError('param names must be str, not %s' % type(key).__name__)
        items[key] = variant_from_python(value)
    return GLib.Variant('a{sv}', items)


def value_from_python(value):
    """Converts a Python value to a ``GObject.Value`` of an explicit type.

    ``GObject.Value`` is kept; ``None`` -> ``gpointer`` ``NULL`` (what the
    engine means by "no value"); ``bool`` -> ``gboolean``; ``int`` ->
    ``gint64`` (a ``PyObject`` beyond 64 bits); ``float`` -> ``gdouble``;
    ``str`` -> ``gchararray``; a ``GObject.Object`` -> its own type; a
    ``GLib.Variant`` -> ``GVariant``; a ``list`` or ``tuple`` -> a
    ``Pft.Values`` of the converted elements; anything else (``dict``,
    ``bytes``, instances of Python classes) -> ``PyObject``, which C and
    other languages see as an opaque boxed value and Python gets back as
    the same object.
    """
    if isinstance(value, GObject.Value):
        return value
    if value is None:
        return GObject.Value(GObject.TYPE_POINTER, None)
    if isinstance(value, bool):
        return GObject.Value(GObject.TYPE_BOOLEAN, value)
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return GObject.Value(GObject.TYPE_INT64, value)
        return GObject.Value(GObject.TYPE_PYOBJECT, value)
    if isinstance(value, float):
        return GObject.Value(GObject.TYPE_DOUBLE, value)
    if isinstance(value, str):
        return GObject.Value(GObject.TYPE_STRING, value)
    if isinstance(value, GObject.Object):
        return GObject.Value(value.__gtype__, value)
    if isinstance(value, GLib.Variant):
        return GObject.Value(GObject.TYPE_VARIANT, value)
    if isinstance(value, (list, tuple)):
        return GObject.Value(Values.__gtype__, Values.new_from_list(value))
    return GObject.Value(GObject.TYPE_PYOBJECT, value)


class _BigInt(int):
    """An int beyond 64 bits: a subclass, so that PyGObject stores it as a
    ``PyObject`` instead of overflowing ``gint``."""


# Types whose GValue holds no pointer: a GObject.Value of these can be
# handed back from a vfunc as it is (see _result_from_python).
_SCALAR_TYPES = frozenset([
    GObject.TYPE_BOOLEAN, GObject.TYPE_CHAR, GObject.TYPE_UCHAR,
    GObject.TYPE_INT, GObject.TYPE_UINT, GObject.TYPE_LONG,
    GObject.TYPE_ULONG, GObject.TYPE_INT64, GObject.TYPE_UINT64,
    GObject.TYPE_FLOAT, GObject.TYPE_DOUBLE, GObject.TYPE_GTYPE,
])


def _result_from_python(value):
    # What a vfunc with a "GValue *result (out caller-allocates)" returns.
    #
    # PyGObject 3.42 fills such an out GValue by memcpy from the GValue it
    # marshalled: for a GObject.Value that is the wrapper's own GValue, so
    # any pointer in it (string, object, variant, boxed) is freed with the
    # wrapper while C still holds it. For any other Python object it
    # builds a fresh GValue that it never frees (a 24-byte leak), so the
    # copy in C owns its contents. Hence: GObject.Value only for types
    # without pointers, plain Python objects for the rest, with the type
    # PyGObject guesses for them.
    if isinstance(value, GObject.Value):
        gtype = value.g_type
        if gtype in _SCALAR_TYPES or gtype.is_a(GObject.TYPE_ENUM) \
                or gtype.is_a(GObject.TYPE_FLAGS) or gtype == GObject.TYPE_POINTER:
            return value
        return _result_from_python(value.get_value())
    if value is None:
        return GObject.Value(GObject.TYPE_POINTER, None)
    if isinstance(value, bool):
        return GObject.Value(GObject.TYPE_BOOLEAN, value)
    if isinstance(value, int) and type(value) in (int, _BigInt):
        if _INT64_MIN <= value <= _INT64_MAX:
            return GObject.Value(GObject.TYPE_INT64, value)
        return value if type(value) is _BigInt else _BigInt(value)
    if isinstance(value, float) and type(value) is float:
        return GObject.Value(GObject.TYPE_DOUBLE, value)
    if isinstance(value, (list, tuple)):
        return Values.new_from_list(value)
    return value


def _param_sets_from_python(value):
    # The prep of a batch flow: a list of dicts -> a Pft.Values of a{sv}.
    if isinstance(value, (list, tuple)):
        values = Pft.Values.new()
        for item in value:
            if isinstance(item, dict):
                item = _vardict(item)
            Pft.Values.append(values, value_from_python(item))
        return values
    return _result_from_python(value)


# ------------------------------------------------------------------ #
# One Python thread state per Pft worker thread                         #

class _ThreadStatePin(object):
    """Keeps the Python thread state of a foreign (Pft worker) thread alive
    between vfunc calls.

    PyGObject wraps each call from C in PyGILState_Ensure/Release. In a
    thread Python did not create, the Release takes the counter back to
    0 and CPython destroys the thread state, and with it (3.11) an
    mmapped frame stack: an mmap, a munmap and a TLB shootdown per item.
    One extra Ensure, taken on the first call in such a thread, keeps
    the counter above 0.

    When the thread exits, a pthread key destructor gives the state back:
    it runs as a ctypes callback (in a state of its own) and clears and
    deletes the pinned one, or, when Python's own key still points at the
    pinned state, drops the extra count so that the callback's Release
    deletes it. At interpreter exit the key is deleted first (no
    destructor runs after that) and finalization frees what is left.

    Python-owned threads (threading.Thread, the main thread) are never
    pinned: Python deletes their state itself. Disabled, with no effect
    but the cost, where ctypes or pthread keys are not available, or with
    PFT_PYTHON_PIN_THREADS=0 in the environment.
    """

    def __init__(self):
        import os
        import threading
        self._threading = threading
        self.local = threading.local()
        self.enabled = False
        self.pinned = 0          # pinned thread states alive (for tests)
        self._lock = threading.Lock()
        if os.environ.get('PFT_PYTHON_PIN_THREADS', '1') == '0':
            return
        try:
            import atexit
            import ctypes
            api = ctypes.pythonapi
            self._ensure = api.PyGILState_Ensure
            self._ensure.restype = ctypes.c_int
            self._ensure.argtypes = []
            self._release = api.PyGILState_Release
            self._release.restype = None
            self._release.argtypes = [ctypes.c_int]
            self._this = api.PyGILState_GetThisThreadState
            self._this.restype = ctypes.c_void_p
            self._this.argtypes = []
            self._clear = api.PyThreadState_Clear
            self._clear.restype = None
            self._clear.argtypes = [ctypes.c_void_p]
            self._delete = api.PyThreadState_Delete
            self._delete.restype = None
            self._delete.argtypes = [ctypes.c_void_p]
            libc = ctypes.CDLL(None)
            self._setspecific = libc.pthread_setspecific
            self._setspecific.restype = ctypes.c_int
            self._setspecific.argtypes = [ctypes.c_uint, ctypes.c_void_p]
            self._key_delete = libc.pthread_key_delete
            self._key_delete.restype = ctypes.c_int
            self._key_delete.argtypes = [ctypes.c_uint]
            self._destructor = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(self._on_thread_exit)
            self._key = ctypes.c_uint(0)
            if libc.pthread_key_create(ctypes.byref(self._key), self._destructor) != 0:
                return
        except (ImportError, AttributeError, OSError):
            return
        self.enabled = True
        atexit.register(self._shutdown)

    def pin(self):
        """Called in a vfunc, GIL held: pins this thread's state once."""
        local = self.local
        if local.__dict__.get('done'):
            return
        local.done = True
        if not self.enabled:
            return
        threading = self._threading
        owner = threading._active.get(threading.get_ident())
        if owner is not None and not isinstance(owner, threading._DummyThread):
            return
        self._ensure()
        tstate = self._this()
        if self._setspecific(self._key.value, tstate) != 0:
            self._release(0)
            return
        with self._lock:
            self.pinned += 1

    def _on_thread_exit(self, tstate):
        # In the exiting thread, in a ctypes callback that did its own
        # Ensure. glibc clears every key of the thread in turn: Python's
        # may already point at nothing, so that Ensure made a new state.
        with self._lock:
            self.pinned -= 1
        if self._this() == tstate:
            self._release(0)
        else:
            self._clear(tstate)
            self._delete(tstate)

    def _shutdown(self):
        if self.enabled:
            self.enabled = False
            self._key_delete(self._key.value)


_pin = _ThreadStatePin()


# ------------------------------------------------------------------ #
# Exceptions -> GErrors                                                #

def _to_gerror(exc):
    if isinstance(exc, GLib.Error):
        return exc
    return GLib.Error.new_literal(Pft.error_quark(),
                                  '%s: %s' % (type(exc).__name__, exc),
                                  Pft.Error.FAILED)


def _log_exception(name, outcome):
    sys.stderr.write('Pft: exception in %s, %s:\n' % (name, outcome))
    traceback.print_exc()


def _wrap_value_vfunc(name, func, convert):
    @functools.wraps(func)
    def wrapper(self, *args):
        if not _pin.local.__dict__.get('done'):
            _pin.pin()
        try:
            return convert(self, func(self, *args))
        except GLib.Error:
            raise
        except BaseException as e:
            raise _to_gerror(e) from e
    return wrapper


def _wrap_plain_vfunc(name, func):
    @functools.wraps(func)
    def wrapper(self, *args):
        try:
            return func(self, *args)
        except GLib.Error:
            raise
        except BaseException as e:
            raise _to_gerror(e) from e
    return wrapper


def _convert_result(self, value):
    return _result_from_python(value)


def _convert_prep(self, value):
    if isinstance(self, Pft.BatchFlow):
        return _param_sets_from_python(value)
    return _result_from_python(value)


def _wrap_exec_async(func):
    # exec_async has no GError out-parameter: an exception would leave the
    # callback uncalled and the run hanging. Complete a task of our own
    # with the error instead; the wrapped exec_finish raises it.
    from gi.repository import Gio

    @functools.wraps(func)
    def wrapper(self, ctx, item, cancellable, callback, *user_data):
        try:
            return func(self, ctx, item, cancellable, callback, *user_data)
        except BaseException as e:
            task = Gio.Task.new(self, cancellable, callback)
            task._pft_error = _to_gerror(e)
            task.return_error(task._pft_error)
    return wrapper


def _wrap_exec_finish(func):
    @functools.wraps(func)
    def wrapper(self, result):
        error = getattr(result, '_pft_error', None)
        if error is not None:
            raise error
        try:
            return _result_from_python(func(self, result))
        except GLib.Error:
            raise
        except BaseException as e:
            raise _to_gerror(e) from e
    return wrapper


def _default_exec_finish(self, result):
    # Used when a class defines do_exec_async without do_exec_finish, so
    # that errors of _wrap_exec_async still arrive.
    error = getattr(result, '_pft_error', None)
    if error is not None:
        raise error
    ok, value = result.propagate_value()
    return _result_from_python(value)


def _wrap_is_rate_limit(func):
    # No GError out-parameter here: an exception means "not a rate limit".
    @functools.wraps(func)
    def wrapper(self, error):
        try:
            return bool(func(self, error))
        except BaseException:
            _log_exception('do_is_rate_limit', 'taken as "not a rate limit"')
            return False
    return wrapper


def _wrap_vfuncs(cls):
    d = cls.__dict__
    for name in ('do_prep', 'do_exec', 'do_exec_fallback'):
        if name in d and callable(d[name]):
            conv = _convert_prep if name == 'do_prep' else _convert_result
            setattr(cls, name, _wrap_value_vfunc(name, d[name], conv))
    for name in ('do_exec_task', 'do_post'):
        if name in d and callable(d[name]):
            setattr(cls, name, _wrap_plain_vfunc(name, d[name]))
    if 'do_exec_async' in d and callable(d['do_exec_async']):
        setattr(cls, 'do_exec_async', _wrap_exec_async(d['do_exec_async']))
        if 'do_exec_finish' not in d:
            setattr(cls, 'do_exec_finish', _default_exec_finish)
    if 'do_exec_finish' in d and callable(d['do_exec_finish']) \
            and d['do_exec_finish'] is not _default_exec_finish:
        setattr(cls, 'do_exec_finish', _wrap_exec_finish(d['do_exec_finish']))
    if 'do_is_rate_limit' in d and callable(d['do_is_rate_limit']):
        setattr(cls, 'do_is_rate_limit', _wrap_is_rate_limit(d['do_is_rate_limit']))



# ------------------------------------------------------------------ #
# Class attributes as property defaults ("knobs")                      #

# Names that must be set before the others: an adaptive node clamps
# initial-concurrent into [min, max] when it is set, so the ceiling and
# the floor go first.
_KNOB_FIRST = ('max-concurrent', 'max-concurrent-flows',
               'min-concurrent', 'min-concurrent-flows')

# Read-only counters gathered by Node.stats.
_STAT_PROPS = ('completed', 'failed', 'total',
               'current-concurrent', 'current-concurrent-flows',
               'total-successes', 'total-rate-limits', 'consecutive-successes')

_NUMERIC_TYPES = frozenset([
    GObject.TYPE_INT, GObject.TYPE_UINT, GObject.TYPE_LONG, GObject.TYPE_ULONG,
    GObject.TYPE_INT64, GObject.TYPE_UINT64, GObject.TYPE_DOUBLE, GObject.TYPE_FLOAT,
])


class _Knob(object):
    """A class attribute that sets a property (``max_concurrent = 5``).

    On the class it reads as the value written in the class body, so that
    a subclass can compute from it; on an instance it reads and writes
    the live property (``node.max_concurrent`` is
    ``node.props.max_concurrent``).
    """

    def __init__(self, prop, default):
        self.prop = prop
        self.default = default

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self.default
        return obj.get_property(self.prop)

    def __set__(self, obj, value):
        pspec = _find_pspec(type(obj), self.prop)
        if self.prop == 'limiter' and isinstance(value, str):
            obj.use_registry_limiter(value)
            return
        obj.set_property(self.prop, _knob_value(pspec, value))

    def __repr__(self):
        return '<Pft knob %s = %r>' % (self.prop, self.default)


def _is_python_class(klass):
    mod = getattr(klass, '__module__', '') or ''
    return klass is not object and not mod.startswith('gi.')


def _find_pspec(cls, name):
    for pspec in cls.list_properties():
        if pspec.name == name:
            return pspec
    return None


def _writable_props(cls):
    # name -> GParamSpec of the properties a class attribute may set.
    props = {}
    for pspec in cls.list_properties():
        if pspec.flags & GObject.ParamFlags.WRITABLE:
            props[pspec.name] = pspec
    return props


def _knob_candidate(name, value):
    if name.startswith('_') or name.startswith('do_') or name == 'preset':
        return False
    if isinstance(value, _Knob):
        return True
    if isinstance(value, (type, staticmethod, classmethod, property, GObject.Property)):
        return False
    if callable(value) or hasattr(value, '__get__'):
        return False
    return True


def _knob_value(pspec, value):
    # The seed's "None = unlimited" for counts; dicts for params.
    if pspec is None:
        return value
    if value is None and pspec.value_type in _NUMERIC_TYPES:
        return 0
    if isinstance(value, dict) and pspec.value_type == GObject.TYPE_VARIANT:
        return _vardict(value)
    return value


def _class_knobs(cls):
    """The knobs of *cls*: class attributes of its Python-defined classes,
    subclass first, whose name with ``_`` -> ``-`` is a writable property.
    Returns (preset or None, {property name: value})."""
    props = _writable_props(cls)
    knobs = {}
    preset = None
    for klass in reversed(cls.__mro__):
        if not _is_python_class(klass):
            continue
        for name, value in vars(klass).items():
            if name == 'preset' and 'preset' not in props and \
                    (value is None or isinstance(value, str)):
                preset = value
                continue
            if not _knob_candidate(name, value):
                continue
            prop = name.replace('_', '-')
            if prop not in props:
                continue
            if isinstance(value, _Knob):
                value = value.default
            knobs.pop(prop, None)       # re-insert: the latest class decides the order
            knobs[prop] = value
    return preset, knobs


def _install_knobs(cls):
    # In __init_subclass__: the class is not registered yet, so
    # cls.list_properties() lists its parent's properties, which are the
    # ones a class attribute can name.
    try:
        props = _writable_props(cls)
    except (TypeError, AttributeError):
        return
    for name, value in list(vars(cls).items()):
        if isinstance(value, _Knob) or not _knob_candidate(name, value):
            continue
        prop = name.replace('_', '-')
        if prop in props:
            setattr(cls, name, _Knob(prop, value))


def _knob_order(item):
    name = item[0]
    return _KNOB_FIRST.index(name) if name in _KNOB_FIRST else len(_KNOB_FIRST)


# ------------------------------------------------------------------ #
# Pft.Node                                                             #

class _Transition(object):
    """``node - "action"``: waits for ``>> successor``."""

    def __init__(self, node, action):
        self.node = node
        self.action = action

    def __rshift__(self, other):
        Pft.Node.add_successor(self.node, self.action, other)
        return other


class Node(Pft.Node):
    """A PocketFlow node; subclass it and override ``do_prep``,
    ``do_exec`` (runs in a worker thread), ``do_post``.

    See the module documentation for how exceptions and return values of
    the ``do_*`` methods are converted.
    """

    def __init_subclass__(cls, **kwargs):
        # Runs inside type.__new__, before PyGObject's metaclass __init__
        # hooks up the do_* methods: they are wrapped in place.
        super().__init_subclass__(**kwargs)
        _wrap_vfuncs(cls)
        _install_knobs(cls)

    def __init__(self, **kwargs):
        """Creates the node. Keyword arguments are properties, as for any
        GObject (``max_concurrent=3``), plus:

        * ``preset``: the name of a rate-limit preset, applied first
          (throttled and adaptive nodes and flows only);
        * ``limiter`` given as a ``str``: the name of a limiter of the
          default ``Pft.LimiterRegistry`` to share.

        Class attributes named like writable properties (``max_concurrent =
        5``, ``max_per_minute = 60``, ``wait = 0.5``, ``initial_concurrent =
        10``, ...) are defaults for every instance, and ``preset = "name"``
        as a class attribute too; the order is: preset, then class
        attributes (a subclass's win over its parent's), then keyword
        arguments.
        """
        cls = type(self)
        preset, props = _class_knobs(cls)
        if 'preset' in kwargs:
            preset = kwargs.pop('preset')
        for name, value in kwargs.items():
            prop = name.replace('_', '-')
            props.pop(prop, None)
            props[prop] = value
        limiter_name = None
        if isinstance(props.get('limiter'), str):
            limiter_name = props.pop('limiter')
        pspecs = {p.name: p for p in cls.list_properties()}
        ordered = [(name, _knob_value(pspecs.get(name), value))
                   for name, value in sorted(props.items(), key=_knob_order)]
        super().__init__(**{name.replace('-', '_'): value for name, value in ordered})
        if preset is not None:
            if not hasattr(self, 'apply_preset'):
                raise TypeError('%s has no presets: preset needs a throttled or '
                                'adaptive node or flow' % cls.__name__)
            self.apply_preset(preset)
            # Class attributes and arguments win over the preset.
            for name, value in ordered:
                pspec = pspecs.get(name)
                if pspec is not None and not pspec.flags & GObject.ParamFlags.CONSTRUCT_ONLY:
                    self.set_property(name, value)
        if limiter_name is not None:
            self.use_registry_limiter(limiter_name)

    @property
    def stats(self):
        """The counters of a throttled or adaptive node or flow as a
        ``dict`` (``completed``, ``failed``, ``total``, and for adaptive
        ones ``current_concurrent`` or ``current_concurrent_flows``,
        ``total_successes``, ``total_rate_limits``,
        ``consecutive_successes``); empty for other nodes. A snapshot:
        each value is read separately while a run may go on."""
        names = {p.name for p in type(self).list_properties()}
        return {name.replace('-', '_'): self.get_property(name)
                for name in _STAT_PROPS if name in names}

    def __rshift__(self, other):
        """``self >> other``: *other* follows on the default action; returns *other*."""
        Pft.Node.add_successor(self, None, other)
        return other

    def __sub__(self, action):
        """``self - "action" >> other``: *other* follows on *action*."""
        if not isinstance(action, str):
            return NotImplemented
        return _Transition(self, action)

    def run(self, store=None, cancellable=None):
        """Runs the node (or flow) synchronously and returns the action.

        A new ``Pft.Store`` is created when *store* is None. Raises
        ``GLib.Error`` on failure.
        """
        if store is None:
            store = Pft.Store.new()
        return Pft.Node.run(self, store, cancellable)


Node = override(Node)
__all__.append('Node')


# ------------------------------------------------------------------ #
# Pft.Values                                                           #

class Values(Pft.Values):
    """An ordered sequence of GValues, list-like in Python.

    Indexing returns Python values; ``append()`` converts as
    :func:`value_from_python` does. Note that an empty ``Values`` is
    falsy, like an empty list.
    """

    @classmethod
    def new_from_list(cls, items):
        """Creates a ``Pft.Values`` from a Python iterable, converting each item."""
        self = Pft.Values.new()
        for item in items:
            Pft.Values.append(self, value_from_python(item))
        return self

    def __len__(self):
        return self.get_length()

    def _index(self, index):
        n = self.get_length()
        if index < 0:
            index += n
        if index < 0 or index >= n:
            raise IndexError('Pft.Values index out of range')
        return index

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return Pft.Values.get(self, self._index(index))

    def __setitem__(self, index, value):
        Pft.Values.set(self, self._index(index), value_from_python(value))

    def __iter__(self):
        for i in range(self.get_length()):
            yield Pft.Values.get(self, i)

    def __eq__(self, other):
        if isinstance(other, (list, tuple, Pft.Values)):
            return self.to_list() == list(other)
        return NotImplemented

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = GObject.Object.__hash__

    def __repr__(self):
        return 'Pft.Values(%r)' % (self.to_list(),)

    def append(self, value):
        """Appends *value*, converted as :func:`value_from_python` does."""
        Pft.Values.append(self, value_from_python(value))

    def extend(self, values):
        for value in values:
            self.append(value)

    def to_list(self):
        """Returns the elements as a Python list."""
        return list(self)


Values = override(Values)
__all__.append('Values')


# ------------------------------------------------------------------ #
# Pft.Store                                                            #

class Store(Pft.Store):
    """The store shared by a run, dict-like in Python.

    Written values are converted as :func:`value_from_python` does (an
    ``int`` is stored as ``gint64``, a ``list`` as a ``Pft.Values``, a
    ``dict`` as a ``PyObject``). The store is thread-safe, but a read made
    of several calls (``store[k]`` is ``contains`` then ``lookup``) is not
    atomic. An empty store is falsy, like an empty dict.
    """

    def __getitem__(self, key):
        if not self.contains(key):
            raise KeyError(key)
        return self.lookup(key)

    def __setitem__(self, key, value):
        self.set_value(key, value_from_python(value))

    def __delitem__(self, key):
        if not self.remove(key):
            raise KeyError(key)

    def __contains__(self, key):
        return self.contains(key)

    def __len__(self):
        return self.get_size()

    def __iter__(self):
        return iter(self.dup_keys())

    def keys(self):
        """The keys, in no particular order."""
        return list(self.dup_keys())

    def values(self):
        return [self.lookup(k) for k in self.dup_keys()]

    def items(self):
        return [(k, self.lookup(k)) for k in self.dup_keys()]

    def get(self, key, default=None):
        """``store[key]``, or *default* when *key* is absent."""
        if not self.contains(key):
            return default
        return self.lookup(key)

    def setdefault(self, key, default=None):
        if not self.contains(key):
            self[key] = default
        return self.lookup(key)

    def update(self, other=(), **kwargs):
        items = other.items() if hasattr(other, 'items') else other
        for key, value in items:
            self[key] = value
        for key, value in kwargs.items():
            self[key] = value


Store = override(Store)
__all__.append('Store')


# ------------------------------------------------------------------ #
# Pft.Context                                                          #

class Context(Pft.Context):
    """What one node invocation sees."""

    @property
    def params(self):
        """The run's params as a ``dict`` of unpacked values."""
        return self.get_params().unpack()

    @property
    def store(self):
        """The ``Pft.Store`` of the run."""
        return self.get_store()


Context = override(Context)
__all__.append('Context')


# ------------------------------------------------------------------ #
# Errors                                                               #

def RateLimited(retry_after=-1.0, source=None, message=None):
    """Builds the ``GLib.Error`` to raise when a call was rate limited.

    ``raise Pft.RateLimited(retry_after=2.0, source="api")``. The error is
    ``Pft.Error.RATE_LIMITED``; its message states *retry_after* (seconds,
    negative when unknown), which is how ``Pft.error_get_retry_after()``
    finds it again after PyGObject dropped the error's extended data.
    ``Pft.error_get_source()`` returns None for an error that went through
    Python, for the same reason: the source is only in the message.
    """
    return Pft.error_new_rate_limited(float(retry_after), source, message)


__all__.append('RateLimited')
__all__ += ['value_from_python', 'variant_from_python']
