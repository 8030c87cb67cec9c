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

* ``Pft.RateLimited`` (also ``Pft.RateLimitHit``) is an exception class
  and a ``GLib.Error`` of ``Pft.Error.RATE_LIMITED``; any exception that is
  a rate limit by the original's rules (429, rate limit, too many requests,
  quota in its message or type name) becomes that error, with the
  retry-after of its ``retry_after`` or ``response.headers``.

* The original's method names (``prep(self, shared)``, ``exec(self,
  prep_res)``, ``post(self, shared, prep_res, exec_res)``,
  ``exec_fallback(self, prep_res, exc)``, and ``async def`` ``*_async``
  forms run on the worker thread's own event loop), ``self.params``, a
  ``dict`` as ``shared``, ``await node.run_async(shared)``,
  ``flow.start(a).next(b)``.

* Every GObject property is a plain attribute; limiters and permits are
  context managers (``with``/``async with``); ``LimiterRegistry``'s
  ``register``/``get``/``get_or_create``/``list_all``/``reset`` work on the
  class (the default registry); ``Pft.Presets`` maps names to presets,
  which are mappings of their settings (``**Pft.Presets.OPENAI_TIER1``).

* One Python thread state is kept per Pft worker thread (see
  ``_ThreadStatePin``).

See docs/python.md for the whole reference.
"""

import re
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
    # PyGObject fills such an out GValue by memcpy from the GValue it
    # marshalled (3.42, and still upstream's pygi-closure.c at commit
    # 0194555: _pygi_closure_assign_pyobj_to_out_argument, so this
    # is not gated on the version): for a GObject.Value that is the wrapper's own GValue, so
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
        self.loops = {}          # thread ident -> its event loop (pinned threads)
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
        # threading's registry of the threads it started (private, but
        # there since Python 2): those, and the main thread, are Python's.
        owner = getattr(threading, '_active', {}).get(threading.get_ident())
        dummy = getattr(threading, '_DummyThread', ())
        if owner is not None and not isinstance(owner, dummy):
            return
        self._ensure()
        tstate = self._this()
        if self._setspecific(self._key.value, tstate) != 0:
            self._release(0)
            return
        local.pinned = True
        with self._lock:
            self.pinned += 1

    def loop(self):
        """An asyncio event loop of this thread's own, or None when this
        thread's state is not pinned (a loop kept there would outlive
        nothing but be collected unclosed)."""
        if not self.local.__dict__.get('pinned'):
            return None
        import asyncio
        ident = self._threading.get_ident()
        loop = self.loops.get(ident)
        if loop is None or loop.is_closed():
            loop = self.loops[ident] = asyncio.new_event_loop()
        return loop

    def _close_loop(self, ident):
        loop = self.loops.pop(ident, None)
        if loop is not None and not loop.is_closed():
            try:
                loop.close()
            except Exception:
                pass

    def _on_thread_exit(self, tstate):
        # In the exiting thread, in a ctypes callback that did its own
        # Ensure. glibc clears every key of the thread in turn: Python's
        # may already point at nothing, so that Ensure made a new state.
        with self._lock:
            self.pinned -= 1
        self._close_loop(self._threading.get_ident())
        if self._this() == tstate:
            self._release(0)
        else:
            self._clear(tstate)
            self._delete(tstate)

    def _shutdown(self):
        if self.enabled:
            self.enabled = False
            self._key_delete(self._key.value)
        for ident in list(self.loops):
            self._close_loop(ident)


_pin = _ThreadStatePin()


# ------------------------------------------------------------------ #
# Exceptions -> GErrors                                                #

# What the original (pocketflow-throttled) takes for a rate limit: the
# exception's message or type name mentions one of these. How openai's
# RateLimitError and httpx's 429s reach it.
_RATE_LIMIT_WORDS = ('rate limit', 'rate_limit', 'ratelimit',
                     'too many requests', 'quota', 'throttl')
# 429 as a number of its own, not inside a port (127.0.0.1:42913) or an id.
_STATUS_429 = re.compile(r'(?<![\d.])429(?!\d|\.\d)')
_RATE_LIMIT_TYPE_WORDS = ('ratelimit', 'rate_limit', 'toomanyrequests', 'quota', 'throttl')


def is_rate_limit_exception(exc):
    """Tells whether *exc* means "rate limited", as the original does.

    True for a :class:`RateLimited` (``RateLimitHit``), for a
    ``GLib.Error`` that ``Pft.error_is_rate_limit()`` accepts, and for any
    other exception whose message mentions 429, rate limit, too many
    requests, quota or throttling, or whose type name says rate limit (``RateLimitError``,
    ``TooManyRequests``); not for a full disk ("Disk quota exceeded").
    """
    if isinstance(exc, RateLimited):
        return True
    if isinstance(exc, GLib.Error):
        return Pft.error_is_rate_limit(exc)
    message = _exception_text(exc).lower()
    if 'disk quota' in message:
        return False
    name = type(exc).__name__.lower()
    return (_STATUS_429.search(message) is not None or
            any(w in message for w in _RATE_LIMIT_WORDS) or
            any(w in name for w in _RATE_LIMIT_TYPE_WORDS))


def retry_after_of(exc):
    """The seconds *exc* asks to wait, or None: its ``retry_after``
    attribute, else its ``response.headers["retry-after"]`` (seconds or
    an HTTP date), as OpenAI's and httpx's errors carry it, else what
    ``Pft.error_get_retry_after()`` reads from a ``GLib.Error``."""
    value = getattr(exc, 'retry_after', None)
    if value is None:
        headers = getattr(getattr(exc, 'response', None), 'headers', None)
        if headers is not None:
            try:
                value = headers.get('retry-after')
                if value is None:
                    value = headers.get('Retry-After')
            except Exception:
                value = None
    if value is None and isinstance(exc, GLib.Error):
        value = Pft.error_get_retry_after(exc)
        return value if value >= 0 else None
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = _seconds_until_http_date(value)
    if seconds is None or seconds != seconds or seconds < 0:
        return None
    return seconds


def _seconds_until_http_date(value):
    try:
        import email.utils
        import time
        when = email.utils.parsedate_to_datetime(str(value))
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class _RecentExceptions(object):
    """The last Python exceptions turned into GErrors, by message, so that
    ``run()`` raises the exception the exec raised (``except ValueError``
    works) and ``exec_fallback`` receives it. Bounded: holding an
    exception holds its traceback."""

    LIMIT = 32

    def __init__(self):
        import collections
        import threading
        self._lock = threading.Lock()
        self._items = collections.OrderedDict()

    def add(self, message, exc):
        with self._lock:
            self._items.pop(message, None)
            self._items[message] = exc
            while len(self._items) > self.LIMIT:
                self._items.popitem(last=False)

    def get(self, message, pop=False):
        with self._lock:
            if pop:
                return self._items.pop(message, None)
            return self._items.get(message)


_recent = _RecentExceptions()


def _exception_text(exc):
    """``str(exc)`` as a GError message can hold it (UTF-8 without NUL: a
    lone surrogate, as in a file name decoded with surrogateescape, cannot
    be encoded), and a text even when the exception's ``__str__`` fails."""
    try:
        text = str(exc)
    except Exception:
        text = '(its str() failed)'
    return text.encode('utf-8', 'backslashreplace').decode('utf-8').replace('\0', '\\x00')


def _to_gerror(exc):
    # Must not raise: PyGObject would print the traceback and hand C an
    # empty success.
    if isinstance(exc, GLib.Error):
        return exc
    message = '%s: %s' % (type(exc).__name__, _exception_text(exc))
    try:
        limited = is_rate_limit_exception(exc)
        retry_after = retry_after_of(exc) if limited else None
    except Exception:   # a broken attribute of the exception; still an error
        limited, retry_after = False, None
    if limited:
        error = Pft.error_new_rate_limited(-1.0 if retry_after is None else retry_after,
                                           None, message)
    else:
        error = GLib.Error.new_literal(Pft.error_quark(), message, Pft.Error.FAILED)
    _recent.add(error.message, exc)
    return error


def _python_exception(error, pop=False):
    """The Python exception behind a GLib.Error that came back from C: the
    one an exec raised, a RateLimited for a rate limit, else *error*."""
    if not isinstance(error, GLib.Error) or isinstance(error, RateLimited):
        return error
    exc = _recent.get(error.message, pop)
    if exc is not None:
        return exc
    if Pft.error_is_rate_limit(error):
        return RateLimited(retry_after=retry_after_of(error), message=error.message,
                           _exact=True)
    return error


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
        if not _pin.local.__dict__.get('done'):
            _pin.pin()
        try:
            return func(self, *args)
        except GLib.Error:
            raise
        except BaseException as e:
            raise _to_gerror(e) from e
    return wrapper


def _convert_result(self, value):
    return _result_from_python(value)


def _convert_messages(self, value):
    # PftHttp.ChatNode.do_build_messages: a conversation as Python writes
    # it (OpenAI's [{"role": ..., "content": ...}], or (role, content)
    # pairs) becomes the variant the node takes; anything else as usual.
    if isinstance(value, (list, tuple)) and value:
        if all(isinstance(m, dict) and all(isinstance(k, str) and isinstance(v, str)
                                           for k, v in m.items()) for m in value):
            return _result_from_python(GLib.Variant('aa{ss}', [dict(m) for m in value]))
        if all(isinstance(m, (list, tuple)) and len(m) == 2 and
               all(isinstance(x, str) for x in m) for m in value):
            return _result_from_python(GLib.Variant('a(ss)', [tuple(m) for m in value]))
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
    # do_build_messages and do_handle_reply: PftHttp.ChatNode's, also with
    # an out GValue and a GError.
    for name in ('do_prep', 'do_exec', 'do_exec_fallback', 'do_build_messages', 'do_handle_reply'):
        if name in d and callable(d[name]):
            conv = (_convert_prep if name == 'do_prep' else
                    _convert_messages if name == 'do_build_messages' else _convert_result)
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
# The original's method names: prep/exec/post(_async), exec_fallback   #

# Where a dict given to run() travels in the Pft.Store (a PyObject).
_SHARED_KEY = '__pft_python_shared__'

# (vfunc, original names: sync first, then async)
_SEED_METHODS = (
    ('do_prep', ('prep', 'prep_async')),
    ('do_exec', ('exec', 'exec_async')),
    ('do_post', ('post', 'post_async')),
    ('do_exec_fallback', ('exec_fallback', 'exec_fallback_async')),
)


class _Calls(object):
    """The node invocations running in this thread, innermost last, so
    that ``self.params`` reads the params of the current one."""

    def __init__(self):
        import threading
        self.local = threading.local()

    def push(self, node, ctx):
        stack = self.local.__dict__.get('stack')
        if stack is None:
            stack = self.local.stack = []
        stack.append((node, ctx))

    def pop(self):
        self.local.stack.pop()

    def context_of(self, node):
        for n, ctx in reversed(self.local.__dict__.get('stack') or ()):
            if n is node:
                return ctx
        return None


_calls = _Calls()


def _run_coroutine(coro):
    """Runs *coro* to completion in this thread: on the worker thread's
    own event loop (kept while its pinned thread state lives, closed when
    the thread exits, see _ThreadStatePin), on a loop made for the call in
    a thread Python owns, or, when an event loop already runs in this
    thread, on a fresh one in a helper thread (blocking this one, as a
    synchronous call does)."""
    import asyncio
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(1, 'pft-coroutine') as pool:
            return pool.submit(asyncio.run, coro).result()
    loop = _pin.loop()
    if loop is not None:
        return loop.run_until_complete(coro)
    # A thread Python owns (or an unpinned one): a loop for this call.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def _plain(value):
    # What the original's methods receive: lists, not Pft.Values.
    if isinstance(value, Pft.Values):
        return [_plain(v) for v in Values.to_list(value)]
    return value


def _shared_of(ctx):
    store = ctx.get_store()
    if store.contains(_SHARED_KEY):
        return store.lookup(_SHARED_KEY)
    return store


def _seed_call(self, ctx, func, args):
    _calls.push(self, ctx)
    try:
        result = func(self, *args)
        if hasattr(result, '__await__') and hasattr(result, 'send'):
            result = _run_coroutine(result)
        return result
    finally:
        _calls.pop()


def _seed_prep(func):
    def do_prep(self, ctx):
        return _seed_call(self, ctx, func, (_shared_of(ctx),))
    return do_prep


def _seed_exec(func):
    def do_exec(self, ctx, item):
        return _seed_call(self, ctx, func, (_plain(item),))
    return do_exec


def _seed_post(func):
    def do_post(self, ctx, prep_res, exec_res):
        action = _seed_call(self, ctx, func, (_shared_of(ctx), _plain(prep_res), _plain(exec_res)))
        if action is not None and not isinstance(action, str):
            raise TypeError('post must return an action (str) or None, not %s'
                            % type(action).__name__)
        return action
    return do_post


def _seed_exec_fallback(func):
    def do_exec_fallback(self, ctx, item, reason):
        return _seed_call(self, ctx, func, (_plain(item), _python_exception(reason)))
    return do_exec_fallback


_SEED_ADAPTERS = {
    'do_prep': _seed_prep,
    'do_exec': _seed_exec,
    'do_post': _seed_post,
    'do_exec_fallback': _seed_exec_fallback,
}


def _adapt_seed_methods(cls):
    """Gives *cls* the do_* vfunc for each method it defines under the
    original's name (``exec(self, prep_res)``, ``async def
    exec_async(self, item)``, ...), unless its body defines the do_* too."""
    d = cls.__dict__
    for vfunc, names in _SEED_METHODS:
        if vfunc in d:
            continue
        for name in names:
            func = d.get(name)
            if func is not None and callable(func) and not isinstance(func, (type, property)):
                adapter = _SEED_ADAPTERS[vfunc](func)
                adapter.__name__ = vfunc
                adapter.__qualname__ = '%s.%s' % (cls.__qualname__, vfunc)
                adapter.__doc__ = 'Calls %s() (the original\'s name).' % name
                setattr(cls, vfunc, adapter)
                break


def _store_for(shared):
    # run()'s argument -> the Pft.Store of the run.
    if shared is None:
        return Pft.Store.new()
    if isinstance(shared, Pft.Store):
        return shared
    if hasattr(shared, 'keys') and hasattr(shared, '__getitem__'):
        store = Pft.Store.new()
        store[_SHARED_KEY] = shared
        return store
    raise TypeError('shared must be a dict or a Pft.Store, not %s' % type(shared).__name__)


# ------------------------------------------------------------------ #
# Every GObject property as a plain attribute                          #

_attr_pspecs = {}


def _pspec_for_attr(cls, name):
    """The GParamSpec that attribute *name* of *cls* stands for, or None."""
    table = _attr_pspecs.get(cls)
    if table is None:
        table = {}
        try:
            for pspec in cls.list_properties():
                table[pspec.name.replace('-', '_')] = pspec
        except (TypeError, AttributeError):
            pass
        _attr_pspecs[cls] = table
    return table.get(name)


def _set_prop(obj, pspec, value):
    if pspec.name == 'limiter' and isinstance(value, str) and hasattr(obj, 'use_registry_limiter'):
        obj.use_registry_limiter(value)
        return
    obj.set_property(pspec.name, _knob_value(pspec, value))


def _prop_getattr(self, name):
    if not name.startswith('_'):
        pspec = _pspec_for_attr(type(self), name)
        if pspec is not None and pspec.flags & GObject.ParamFlags.READABLE:
            return self.get_property(pspec.name)
    raise AttributeError('%r object has no attribute %r' % (type(self).__name__, name))


def _prop_setattr(self, name, value):
    if not name.startswith('_'):
        cls = type(self)
        pspec = _pspec_for_attr(cls, name)
        if pspec is not None and not any(name in vars(k) for k in cls.__mro__):
            if not pspec.flags & GObject.ParamFlags.WRITABLE or \
                    pspec.flags & GObject.ParamFlags.CONSTRUCT_ONLY:
                raise AttributeError('property %s of %s is read-only'
                                     % (pspec.name, cls.__name__))
            _set_prop(self, pspec, value)
            return
    GObject.Object.__setattr__(self, name, value)


def _add_property_attributes(cls):
    """``obj.max_concurrent`` reads and ``obj.max_concurrent = 3`` writes
    the property on *cls* and its subclasses, whether or not a class body
    names it; a class attribute of the same name wins."""
    cls.__getattr__ = _prop_getattr
    cls.__setattr__ = _prop_setattr


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
        _adapt_seed_methods(cls)
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

    def run(self, shared=None, cancellable=None):
        """Runs the node (or flow) synchronously and returns the action.

        *shared* is a ``Pft.Store``, or a ``dict`` (any mapping) that the
        methods written with the original's names (``prep(self, shared)``,
        ``post(self, shared, ...)``) receive as it is, so that their
        changes are visible afterwards; ``do_*`` methods see ``ctx.store``.
        A new store is created when *shared* is None.

        Raises ``GLib.Error`` on failure: a :class:`RateLimited` (a
        ``GLib.Error`` too) for a run that ended rate limited. When a
        Python exception of an exec ended the run, it is the error's
        ``__cause__``, so that the traceback shows where it came from.
        """
        store = _store_for(shared)
        try:
            return Pft.Node.run(self, store, cancellable)
        except GLib.Error as e:
            cause = _recent.get(e.message, pop=True)
            if Pft.error_is_rate_limit(e) and not isinstance(e, RateLimited):
                limited = RateLimited(retry_after=retry_after_of(e), message=e.message,
                                      _exact=True)
                raise limited from cause
            if cause is not None:
                raise e from cause
            raise

    def run_async(self, shared=None, cancellable=None, callback=None, *user_data):
        """Two shapes.

        With a *callback*: GIO's ``run_async(store, cancellable,
        callback)``, finished with ``run_finish()`` on the caller's main
        context.

        Without one: a coroutine for asyncio, as in the original: ``await
        flow.run_async(shared)`` inside ``asyncio.run(...)``. The
        synchronous :meth:`run` goes to a thread of the loop's default
        executor, so that the loop keeps running; cancelling the awaiting
        task cancels the run.
        """
        if callback is not None:
            return Pft.Node.run_async(self, _store_for(shared), cancellable, callback, *user_data)
        return self._run_in_executor(shared, cancellable)

    async def _run_in_executor(self, shared, cancellable):
        import asyncio
        from gi.repository import Gio
        if cancellable is None:
            cancellable = Gio.Cancellable()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, self.run, shared, cancellable)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            cancellable.cancel()
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
            raise

    @property
    def params(self):
        """The params as a ``dict``: in one of this node's methods, those
        of the invocation running (a batch flow gives each of its runs its
        own); elsewhere, the node's own ``params`` property."""
        ctx = _calls.context_of(self)
        if ctx is not None:
            return ctx.get_params().unpack()
        params = Pft.Node.get_params(self)
        return params.unpack() if params is not None else {}

    @params.setter
    def params(self, value):
        self.set_params(value)

    def set_params(self, params):
        """Sets the node's params from a ``dict`` (or an ``a{sv}``
        ``GLib.Variant``; None for none)."""
        if isinstance(params, dict):
            params = _vardict(params)
        Pft.Node.set_params(self, params)

    def next(self, node, action='default'):
        """PocketFlow's ``a.next(b, action)``: *node* follows *self* on
        *action*; returns *node*, for chaining."""
        Pft.Node.add_successor(self, action, node)
        return node


_add_property_attributes(Node)
Node = override(Node)
__all__.append('Node')


# ------------------------------------------------------------------ #
# Pft.Values                                                           #

class Values(Pft.Values):
    """An ordered sequence of GValues, list-like in Python.

    Indexing returns Python values; ``append()`` converts as
    :func:`value_from_python` does. It equals a list or tuple of the same
    elements and prints as a list; like every GObject (and PyGObject's
    ``Gio.Settings``), it is true even when empty: test ``len(values)``.
    Unhashable, like a list, since it equals one.
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

    __hash__ = None

    def __bool__(self):
        return True

    def __repr__(self):
        return repr(self.to_list())

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
    atomic. Like every GObject (and PyGObject's ``Gio.Settings``), a store
    is true even when empty: test ``len(store)``.
    """

    def __bool__(self):
        return True

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


_add_property_attributes(Context)
Context = override(Context)
__all__.append('Context')


# ------------------------------------------------------------------ #
# Errors                                                               #

class RateLimited(GLib.Error):
    """A rate limit, as an exception that ``except`` catches.

    ``raise Pft.RateLimited(retry_after=2.0, source="api")`` in Pft's
    style, or ``raise Pft.RateLimitHit("Rate limit exceeded",
    retry_after=30.0)`` in the original's (a first positional ``str`` is
    the message; ``RateLimitHit`` is the same class). It is a
    ``GLib.Error`` of ``Pft.Error.RATE_LIMITED``, so it reaches C as that
    error when raised in a vfunc; its message states *retry_after*
    (seconds; None or negative when unknown), which is how
    ``Pft.error_get_retry_after()`` finds it again after PyGObject dropped
    the error's extended data. ``retry_after`` (a float or None) and
    ``source`` are attributes. ``run()`` raises this class for a run that
    ended rate limited.
    """

    def __init__(self, *args, retry_after=None, source=None, message=None, _exact=False):
        args = list(args)
        if args and isinstance(args[0], str):
            message = args.pop(0)
            if args:
                retry_after = args.pop(0)
        else:
            if args:
                retry_after = args.pop(0)
            if args:
                source = args.pop(0)
            if args:
                message = args.pop(0)
        if args:
            raise TypeError('RateLimited: too many arguments')
        ra = -1.0 if retry_after is None else float(retry_after)
        if _exact:
            text = message
        else:
            text = Pft.error_new_rate_limited(ra, source, message).message
        super().__init__(text, GLib.quark_to_string(Pft.error_quark()),
                         int(Pft.Error.RATE_LIMITED))
        self.retry_after = ra if ra >= 0 else None
        self.source = source


RateLimitHit = RateLimited
__all__ += ['RateLimited', 'RateLimitHit', 'is_rate_limit_exception', 'retry_after_of']
__all__ += ['value_from_python', 'variant_from_python']


# ------------------------------------------------------------------ #
# Flows and throttled nodes: PocketFlow's start(), the original's       #
# reset_limiter()                                                      #

class Flow(Pft.Flow):
    """A flow; ``Flow(start=node)`` or PocketFlow's ``flow.start(node)``."""

    def start(self, node):
        """PocketFlow's ``flow.start(a).next(b)``: sets the start node and
        returns it, for chaining. (The start node reads as
        ``flow.get_start()`` or ``flow.props.start``.)"""
        self.set_start(node)
        return node


Flow = override(Flow)
__all__.append('Flow')


def _reset_limiter(self):
    """The original's ``reset_limiter()``: forgets the window history and
    any pause of this node's (or flow's) limiter, keeping its limits; see
    ``Pft.RateLimiter.reset()``. A limiter shared through the registry is
    reset for everyone sharing it."""
    limiter = self.get_limiter()
    if limiter is not None:
        limiter.reset()


class ThrottledBatchNode(Pft.ThrottledBatchNode):
    reset_limiter = _reset_limiter


ThrottledBatchNode = override(ThrottledBatchNode)
__all__.append('ThrottledBatchNode')


class ThrottledBatchFlow(Pft.ThrottledBatchFlow):
    reset_limiter = _reset_limiter


ThrottledBatchFlow = override(ThrottledBatchFlow)
__all__.append('ThrottledBatchFlow')


# ------------------------------------------------------------------ #
# Rate limiters and permits as context managers                        #

import contextvars as _contextvars  # noqa: E402

# The permits taken by `with limiter:` / `async with limiter:` in this
# thread or task, innermost last: ((limiter, permit), ...). A tuple,
# replaced on each change, because asyncio tasks share the value they
# inherit.
_held_permits = _contextvars.ContextVar('pft_held_permits', default=())
_acquire_pool = None


def _acquire_executor():
    # Threads that block in acquire() for `async with` when no permit is
    # free at once; each returns as soon as its permit is granted.
    global _acquire_pool
    if _acquire_pool is None:
        import concurrent.futures
        _acquire_pool = concurrent.futures.ThreadPoolExecutor(64, 'pft-acquire')
    return _acquire_pool


def _settle_exit(permit, exc):
    # A rate-limit exception leaving the block pauses the limiter (its
    # retry-after) before the permit goes back.
    try:
        if exc is not None and is_rate_limit_exception(exc):
            permit.get_limiter().report_error(_to_gerror(exc))
    finally:
        permit.release()


def _release_abandoned(future):
    # The result of a wait nobody awaits any more: release a permit,
    # swallow the cancellation error (else asyncio logs "never retrieved").
    if future.cancelled():
        return
    if future.exception() is None:
        permit = future.result()
        if permit is not None:
            permit.release()


class Permit(Pft.Permit):
    """A granted admission; a context manager that releases it:
    ``with limiter.acquire(cost=120):``. An exception that is a rate limit
    (see :func:`is_rate_limit_exception`) leaving the block is reported to
    the limiter first (``report_error``), which pauses it for the
    exception's retry-after."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        _settle_exit(self, exc)
        return False


_add_property_attributes(Permit)
Permit = override(Permit)
__all__.append('Permit')


class RateLimiter(Pft.RateLimiter):
    """A rate limiter. ``RateLimiter(max_concurrent=5, max_per_window=60,
    window_seconds=60)`` as in the original (``None`` for no limit), or
    any property by keyword.

    ``with limiter:`` blocks the thread until admitted and releases on
    exit; ``async with limiter:`` awaits without blocking the event loop;
    ``with limiter.acquire(cost=...)`` holds a permit of that cost. A
    rate-limit exception leaving either block pauses the limiter for its
    retry-after.
    """

    def __init__(self, max_concurrent=None, max_per_window=None, window_seconds=None, **kwargs):
        if max_concurrent is not None:
            kwargs['max_concurrent'] = max_concurrent
        kwargs['max_per_window'] = max_per_window or 0      # None: no window limit
        if window_seconds is not None:
            kwargs['window'] = float(window_seconds)
        if 'window' in kwargs:
            kwargs['window'] = float(kwargs['window'])
        super().__init__(**kwargs)

    def acquire(self, cost=0, cancellable=None):
        """Blocks until admitted; returns the :class:`Permit` (a context
        manager). *cost* counts against ``max_cost_per_window`` (0: the
        request only). Raises ``GLib.Error`` (cancelled, or a cost above
        the limit)."""
        return Pft.RateLimiter.acquire(self, cost, cancellable)

    def try_acquire(self, cost=0):
        """A permit if one is free now without queueing, else None."""
        return Pft.RateLimiter.try_acquire(self, cost)

    def __enter__(self):
        permit = self.acquire(0, None)
        _held_permits.set(_held_permits.get() + ((self, permit),))
        return self

    def __exit__(self, exc_type, exc, tb):
        held = _held_permits.get()
        for i in range(len(held) - 1, -1, -1):
            if held[i][0] is self:
                permit = held[i][1]
                _held_permits.set(held[:i] + held[i + 1:])
                _settle_exit(permit, exc)
                break
        return False

    async def __aenter__(self):
        permit = self.try_acquire(0)
        if permit is None:
            import asyncio
            from gi.repository import Gio
            cancellable = Gio.Cancellable()
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(_acquire_executor(), self.acquire, 0, cancellable)
            try:
                permit = await asyncio.shield(future)
            except asyncio.CancelledError:
                # The waiter leaves the queue; a permit granted meanwhile
                # goes back at once.
                cancellable.cancel()
                future.add_done_callback(_release_abandoned)
                raise
        _held_permits.set(_held_permits.get() + ((self, permit),))
        return self

    async def __aexit__(self, exc_type, exc, tb):
        return self.__exit__(exc_type, exc, tb)

    def __repr__(self):
        return '<Pft.RateLimiter %s>' % self.to_string()


_add_property_attributes(RateLimiter)
RateLimiter = override(RateLimiter)
__all__.append('RateLimiter')


# ------------------------------------------------------------------ #
# The limiter registry, class-level as in the original                 #

class _DefaultOrSelf(object):
    """A method that, called on the class, works on the default registry
    (``LimiterRegistry.register("openai", max_concurrent=10)``) and, called
    on an instance, on that registry."""

    def __init__(self, func):
        self.func = func
        functools.update_wrapper(self, func)

    def __get__(self, obj, cls=None):
        import types
        if obj is None:
            obj = Pft.LimiterRegistry.get_default()
        return types.MethodType(self.func, obj)


def _limiter_from_settings(settings):
    settings = dict(settings)
    preset = settings.pop('preset', None)
    if preset is not None:
        limiter = Pft.RateLimiter.new_for_preset(preset)
        for name, value in settings.items():
            setattr(limiter, name if name != 'window_seconds' else 'window', value)
        return limiter
    settings.setdefault('max_concurrent', 5)
    return RateLimiter(**settings)


class LimiterRegistry(Pft.LimiterRegistry):
    """Named, shared limiters. ``register``, ``get``, ``get_or_create``,
    ``list_all``, ``reset`` work on the class (the process-wide default
    registry, as in the original) and on any instance;
    ``registry["openai"]`` is ``get``; ``"openai" in registry``, ``len``
    and iteration (names) work too."""

    @_DefaultOrSelf
    def register(self, name, limiter=None, replace=True, **settings):
        """Registers *limiter*, or a new one made from *settings*
        (``max_concurrent=5``, ``max_per_window=None``,
        ``window_seconds=60``, or ``preset="openai_tier1"``), under *name*,
        replacing one of that name unless *replace* is False (then
        ``GLib.Error`` ``Pft.Error.EXISTS``). Returns the limiter."""
        if limiter is None:
            limiter = _limiter_from_settings(settings)
        elif settings:
            raise TypeError('register: give a limiter or settings, not both')
        Pft.LimiterRegistry.register(self, name, limiter, replace)
        return limiter

    @_DefaultOrSelf
    def get(self, name, default=None):
        """The limiter named *name*; *default* when there is none and a
        default was given, else ``KeyError``."""
        if Pft.LimiterRegistry.contains(self, name):
            try:
                return Pft.LimiterRegistry.lookup(self, name)
            except GLib.Error:
                pass
        if default is not None:
            return default
        raise KeyError(name)

    @_DefaultOrSelf
    def get_or_create(self, name, max_concurrent=5, max_per_window=None, window_seconds=60.0):
        """The limiter named *name*, created with these limits when there
        is none (an existing one keeps its own)."""
        return Pft.LimiterRegistry.get_or_create(self, name, max_concurrent,
                                                 max_per_window or 0, float(window_seconds))

    @_DefaultOrSelf
    def list_all(self):
        """``{name: stats}`` for every limiter, stats as a ``dict``."""
        return self.get_all_stats().unpack()

    @_DefaultOrSelf
    def reset(self):
        """Removes every limiter (the original's ``reset()``)."""
        self.clear()

    @_DefaultOrSelf
    def names(self):
        """The registered names, sorted."""
        return sorted(self.dup_names())

    def __getitem__(self, name):
        return self.get(name)

    def __contains__(self, name):
        return Pft.LimiterRegistry.contains(self, name)

    def __iter__(self):
        return iter(self.names())

    def __len__(self):
        return len(self.dup_names())

    def __bool__(self):
        return True


_add_property_attributes(LimiterRegistry)
LimiterRegistry = override(LimiterRegistry)
__all__.append('LimiterRegistry')


# ------------------------------------------------------------------ #
# Presets                                                              #

def _preset_settings(preset):
    kind = preset.get_kind()
    per_minute = preset.get_max_per_minute() or None
    if kind == Pft.PresetKind.NODE:
        return {'max_concurrent': preset.get_max_concurrent(),
                'max_per_minute': per_minute}
    if kind == Pft.PresetKind.FLOW:
        return {'max_concurrent_flows': preset.get_max_concurrent(),
                'max_flows_per_minute': per_minute}
    return {'initial_concurrent_flows': preset.get_initial_concurrent(),
            'min_concurrent_flows': preset.get_min_concurrent(),
            'max_concurrent_flows': preset.get_max_concurrent(),
            'backoff_factor': preset.get_backoff_factor(),
            'recovery_threshold': preset.get_recovery_threshold(),
            'recovery_factor': preset.get_recovery_factor()}


class Preset(Pft.Preset):
    """A named set of limits. A read-only mapping of its settings, named
    as the knobs they set (``max_concurrent``, ``max_per_minute`` for a
    node preset; ``max_concurrent_flows``, ``max_flows_per_minute`` for a
    flow preset; the ``*_concurrent_flows`` and factors for an adaptive
    flow preset; None for no per-minute limit), so that
    ``Pft.ThrottledBatchNode(**preset)`` and ``preset["max_concurrent"]``
    work as with the original's dicts. ``description`` and ``name`` are
    attributes."""

    def to_dict(self):
        """The settings as a new ``dict`` (the original's preset dicts)."""
        return _preset_settings(self)

    def keys(self):
        return self.to_dict().keys()

    def __getitem__(self, key):
        return self.to_dict()[key]

    def __iter__(self):
        return iter(self.to_dict())

    def __len__(self):
        return len(self.to_dict())

    def __contains__(self, key):
        return key in self.to_dict()

    def __bool__(self):
        return True

    def get(self, key, default=None):
        return self.to_dict().get(key, default)

    def items(self):
        return self.to_dict().items()

    def values(self):
        return self.to_dict().values()

    def __eq__(self, other):
        if isinstance(other, Pft.Preset):
            return self.get_name() == other.get_name()
        if isinstance(other, dict):
            return self.to_dict() == other
        return NotImplemented

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return hash(self.get_name())

    def __repr__(self):
        return '<Pft.Preset %s %r>' % (self.get_name(), self.to_dict())


_add_property_attributes(Preset)
Preset = override(Preset)
__all__.append('Preset')


class _Presets(object):
    """Every preset, as a mapping of name to :class:`Preset` (names in
    lower case; lookup ignores case and takes the original's aliases), and
    as upper-case attributes: ``Pft.Presets.OPENAI_TIER1["max_concurrent"]``,
    ``Pft.ThrottledBatchNode(**Pft.Presets.OPENAI_TIER1)``,
    ``Pft.Presets["openai_tier1"].description``. ``FlowPresets`` is the
    same for the flow presets, without their ``flow_`` prefix
    (``FlowPresets.MODERATE``), as the original's ``FlowPresets``."""

    def __init__(self, prefix=''):
        self._prefix = prefix

    def _lookup(self, name):
        try:
            return Pft.presets_lookup(self._prefix + name)
        except GLib.Error:
            return None

    def __getitem__(self, name):
        preset = self._lookup(name)
        if preset is None:
            raise KeyError(name)
        return preset

    def __getattr__(self, name):
        if name.startswith('_') or not name.isupper():
            raise AttributeError(name)
        preset = self._lookup(name.lower())
        if preset is None:
            raise AttributeError('no preset %s' % name)
        return preset

    def keys(self):
        n = len(self._prefix)
        return [name[n:] for name in Pft.presets_list() if name.startswith(self._prefix)]

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.keys())

    def __contains__(self, name):
        return self._lookup(name) is not None

    def items(self):
        return [(name, self[name]) for name in self.keys()]

    def values(self):
        return [self[name] for name in self.keys()]

    def get(self, name, default=None):
        preset = self._lookup(name)
        return default if preset is None else preset

    def describe(self):
        """``{name: {"description": ..., **settings}}`` for every preset."""
        return {name: dict(description=p.get_description(), **p.to_dict())
                for name, p in self.items()}

    def __dir__(self):
        return [name.upper() for name in self.keys()]

    def __repr__(self):
        return '<Pft.%s: %s>' % ('FlowPresets' if self._prefix else 'Presets',
                                 ', '.join(self.keys()))


Presets = _Presets()
FlowPresets = _Presets('flow_')
__all__ += ['Presets', 'FlowPresets']
