using System.Net;
using AnnexEdge.Configuration;

namespace AnnexEdge.Security;

/// <summary>
/// Per client address: a token bucket of requests (<c>RequestsPerSecondPerIp</c>, up to <c>RequestBurstPerIp</c>
/// at once) and a bound on requests in flight (<c>ConcurrentRequestsPerIp</c>); a limit of 0 turns it off.
/// No timers: a bucket is refilled from the time that passed when its address is next seen. Measured
/// (bench/README.md): System.Threading.RateLimiting's partitioned limiters each run a 100 ms heartbeat that visits
/// every address they track, and with ASP.NET Core's middleware they were most of an idle edge's wake-ups.
/// </summary>
internal sealed class RequestLimits(LimitsOptions limits, TimeProvider time)
{
    // Addresses in the same state as an unseen one (full bucket, nothing in flight) are forgotten once this many
    // are tracked; the threshold doubles while most are busy, so a sweep is paid for by as many new addresses.
    private const int SweepThreshold = 10_000;

    private readonly double _perSecond = limits.RequestsPerSecondPerIp;
    private readonly double _burst = Math.Max(limits.RequestBurstPerIp, limits.RequestsPerSecondPerIp);
    private readonly int _inFlight = limits.ConcurrentRequestsPerIp;
    private readonly Dictionary<IPAddress, Client> _clients = [];
    private readonly Lock _lock = new();
    private int _sweepAt = SweepThreshold;

    public bool Enabled => _perSecond > 0 || _inFlight > 0;

    /// <summary>Addresses tracked now (for tests and diagnostics).</summary>
    public int Tracked
    {
        get
        {
            lock (_lock)
            {
                return _clients.Count;
            }
        }
    }

    /// <summary>Takes one request's place for the address, or says no (then nothing was taken).</summary>
    public bool TryStart(IPAddress address)
    {
        var now = time.GetTimestamp();
        lock (_lock)
        {
            if (!_clients.TryGetValue(address, out var client))
            {
                if (_clients.Count >= _sweepAt)
                {
                    Sweep(now);
                }

                client = new Client { Tokens = _burst, Stamp = now };
                _clients[address] = client;
            }

            Refill(client, now);
            if ((_inFlight > 0 && client.InFlight >= _inFlight) || (_perSecond > 0 && client.Tokens < 1))
            {
                return false;
            }

            client.Tokens -= 1;
            client.InFlight++;
            return true;
        }
    }

    /// <summary>Gives back the in-flight place of a request <see cref="TryStart"/> admitted.</summary>
    public void End(IPAddress address)
    {
        lock (_lock)
        {
            if (_clients.TryGetValue(address, out var client))
            {
                client.InFlight--;
            }
        }
    }

    private void Refill(Client client, long now)
    {
        if (_perSecond > 0)
        {
            client.Tokens = Math.Min(_burst, client.Tokens + (time.GetElapsedTime(client.Stamp, now).TotalSeconds * _perSecond));
        }

        client.Stamp = now;
    }

    private void Sweep(long now)
    {
        foreach (var (address, client) in _clients)
        {
            Refill(client, now);
            if (client.InFlight == 0 && (_perSecond <= 0 || client.Tokens >= _burst))
            {
                _clients.Remove(address);
            }
        }

        _sweepAt = Math.Max(SweepThreshold, _clients.Count * 2);
    }

    private sealed class Client
    {
        public double Tokens;
        public long Stamp;
        public int InFlight;
    }
}
