/* fake-llm.vala: an in-process stand-in for an LLM API, for the cookbook
 *
 * It translates a word or two after about 20 ms, and has limits of its own
 * that the caller is not told about, like a real provider: a call beyond
 * them fails at once with Pft.Error.RATE_LIMITED (the "429"), with a
 * retry-after when the per-second quota is what ran out. Blocking and
 * thread-safe: call it from exec, which runs in a worker thread.
 *
 * SPDX-License-Identifier: MIT
 */

public class FakeLlm : Object {
    public uint max_concurrent { get; construct; }   /* hidden limits, 0: none */
    public uint max_per_second { get; construct; }

    public uint served { get { lock (starts) { return _served; } } }
    public uint rejected { get { lock (starts) { return _rejected; } } }
    public uint peak_in_flight { get { lock (starts) { return _peak; } } }

    uint in_flight = 0;
    uint _served = 0;
    uint _rejected = 0;
    uint _peak = 0;
    Queue<int64?> starts = new Queue<int64?> ();

    public FakeLlm (uint max_concurrent = 0, uint max_per_second = 0) {
        Object (max_concurrent: max_concurrent, max_per_second: max_per_second);
    }

    void admit () throws GLib.Error {
        var now = get_monotonic_time ();
        lock (starts) {
            while (!starts.is_empty () && starts.peek_head () <= now - TimeSpan.SECOND)
                starts.pop_head ();
            if (max_concurrent > 0 && in_flight >= max_concurrent) {
                _rejected++;
                throw Pft.Error.new_rate_limited (-1, "fake-llm",
                                                  "429 Too Many Requests: too many calls at once");
            }
            if (max_per_second > 0 && starts.length >= max_per_second) {
                _rejected++;
                throw Pft.Error.new_rate_limited ((starts.peek_head () + TimeSpan.SECOND - now) / 1e6,
                                                  "fake-llm", "429 Too Many Requests: quota per second used up");
            }
            in_flight++;
            _peak = uint.max (_peak, in_flight);
            starts.push_tail (now);
        }
    }

    public string translate (string text, string lang) throws GLib.Error {
        admit ();
        Thread.usleep (20000);
        lock (starts) {
            in_flight--;
            _served++;
        }
        bool fr = lang == "fr";
        switch (text) {
        case "hello": return fr ? "bonjour" : "hallo";
        case "world": return fr ? "monde" : "Welt";
        case "good morning": return fr ? "bonjour" : "guten Morgen";
        case "thank you": return fr ? "merci" : "danke";
        case "cat": return fr ? "chat" : "Katze";
        case "dog": return fr ? "chien" : "Hund";
        case "rate limit": return fr ? "limite de débit" : "Ratenbegrenzung";
        case "flow": return fr ? "flux" : "Fluss";
        default: return "[%s] %s".printf (lang, text);
        }
    }
}
