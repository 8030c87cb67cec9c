/* Pft-1-custom.vala: declarations vapigen cannot derive from the GIR
 * and Pft-1.metadata (see there).
 *
 * SPDX-License-Identifier: MIT
 */

namespace Pft {
	public sealed class Values : GLib.Object {
		/* `const char * const *`: without the cast valac passes a
		 * `gchar **`, an incompatible pointer type in C. */
		[CCode (cname = "pft_values_new_from_strv", has_construct_function = false)]
		public Values.from_strv ([CCode (array_length = false, array_null_terminated = true, type = "const char* const*")] string[] strv);
	}
}
