using System.Net;

namespace AnnexEdge.Connections;

/// <summary>
/// Lets one warning per address through per period, so a client opening connections in a loop (or a misconfigured
/// proxy) makes one log line a minute, not one per connection; the next line says how many went unlogged.
/// </summary>
internal sealed class AddressLogThrottle(TimeProvider time)
{
    public static readonly TimeSpan Period = TimeSpan.FromMinutes(1);

    // Only addresses refused within the last period stay; with every address refused at once (each over its
    // connection limit) that is at most MaxConcurrentConnections / MaxConnectionsPerIp of them, plus a sweep's worth.
    private const int SweepThreshold = 1024;

    private readonly Dictionary<IPAddress, (DateTimeOffset Logged, int Unlogged)> _addresses = [];
    private readonly Lock _lock = new();

    /// <summary>Whether to log this refusal now; if so, <paramref name="unlogged"/> is how many were not logged since the last.</summary>
    public bool ShouldLog(IPAddress address, out int unlogged)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (_addresses.TryGetValue(address, out var entry) && now - entry.Logged < Period)
            {
                _addresses[address] = entry with { Unlogged = entry.Unlogged + 1 };
                unlogged = 0;
                return false;
            }

            if (_addresses.Count >= SweepThreshold)
            {
                foreach (var (stale, _) in _addresses.Where(a => now - a.Value.Logged >= Period).ToList())
                {
                    _addresses.Remove(stale);
                }
            }

            unlogged = entry.Unlogged;
            _addresses[address] = (now, 0);
            return true;
        }
    }
}
