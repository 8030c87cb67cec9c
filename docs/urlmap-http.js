// Where gi-docgen links types of PftHttp's dependencies to. Pft's
// reference is a sibling directory, in the build tree and installed.
baseURLs = [
  [ 'Pft', '../Pft-1/' ],
  [ 'GLib', 'https://docs.gtk.org/glib/' ],
  [ 'GObject', 'https://docs.gtk.org/gobject/' ],
  [ 'Gio', 'https://docs.gtk.org/gio/' ],
  [ 'Soup', 'https://libsoup.org/libsoup-3.0/' ],
  [ 'Json', 'https://gnome.pages.gitlab.gnome.org/json-glib/' ],
]
