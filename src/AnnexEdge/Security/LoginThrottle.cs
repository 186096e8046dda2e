using System.Collections.Concurrent;
using System.Net;

namespace AnnexEdge.Security;

/// <summary>
/// Counts failed logins per client address in fixed one-minute windows; an address over the limit is refused
/// without its password being checked until its window ends, so guessing passwords (and making the edge burn
/// PBKDF2 time on the guesses) is slow.
/// </summary>
internal sealed class LoginThrottle(int failuresPerMinute, TimeProvider time)
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private const int SweepThreshold = 10_000;

    private readonly ConcurrentDictionary<IPAddress, Counter> _failures = new();

    public bool IsBlocked(IPAddress? address) =>
        failuresPerMinute > 0 && address is not null && _failures.TryGetValue(address, out var counter)
        && counter.Count(time.GetUtcNow()) >= failuresPerMinute;

    public void RecordFailure(IPAddress? address)
    {
        if (failuresPerMinute <= 0 || address is null)
        {
            return;
        }

        var now = time.GetUtcNow();
        if (_failures.Count > SweepThreshold)
        {
            foreach (var (key, stale) in _failures.Where(e => e.Value.Count(now) == 0))
            {
                _failures.TryRemove(new KeyValuePair<IPAddress, Counter>(key, stale));
            }
        }

        _failures.GetOrAdd(address, _ => new Counter()).Add(now);
    }

    private sealed class Counter
    {
        private DateTimeOffset _start;
        private int _count;

        public int Count(DateTimeOffset now)
        {
            lock (this)
            {
                return now - _start < Window ? _count : 0;
            }
        }

        public void Add(DateTimeOffset now)
        {
            lock (this)
            {
                if (now - _start >= Window)
                {
                    _start = now;
                    _count = 0;
                }

                _count++;
            }
        }
    }
}
