namespace AnnexEdge.Acme;

/// <summary>How long to wait before polling an authorization or order again (RFC 8555 §7.5.1, §7.4).</summary>
internal static class PollPolicy
{
    // A CA validates and issues in well under a second: a first poll after a fixed second made that second the
    // largest part of the time to a first certificate (50 ms first was still ~4 % behind Caddy against Pebble, session
    // 15). Start fast and double, so a slow CA is not asked more often than once a second.
    private static readonly TimeSpan First = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan Longest = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The wait after <paramref name="polls"/> earlier polls: the server's Retry-After when it gives one, else 20 ms
    /// doubling up to 1 s; never more than <paramref name="max"/>.
    /// </summary>
    public static TimeSpan Delay(int polls, TimeSpan? retryAfter, TimeSpan max)
    {
        var delay = retryAfter ?? TimeSpan.FromTicks(Math.Min(First.Ticks << Math.Min(polls, 16), Longest.Ticks));
        return delay < TimeSpan.Zero ? TimeSpan.Zero : delay > max ? max : delay;
    }
}
