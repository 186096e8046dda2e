using System.Net;
using AnnexEdge.Configuration;
using AnnexEdge.Logging;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;

namespace AnnexEdge.Connections;

/// <summary>
/// <c>Limits:MaxConnectionsPerIp</c>: counts each client address's open connections (IPv6 by /64, see
/// <see cref="ClientAddress"/>) and closes a connection over the limit before TLS or HTTP spend anything on it.
/// It runs after <see cref="ProxyProtocolMiddleware"/>, so a client behind a PROXY-protocol proxy is counted by its
/// own address; a trusted proxy's connections without one carry many clients and are not counted.
/// </summary>
internal sealed partial class ConnectionLimitMiddleware(
    IOptions<AnnexEdgeOptions> options, TrustedProxies proxies, TimeProvider time, ILogger<ConnectionLimitMiddleware> logger)
{
    private readonly AddressLogThrottle _throttle = new(time);
    private readonly int _limit = options.Value.Limits.MaxConnectionsPerIp;
    private readonly Dictionary<IPAddress, int> _open = [];
    private readonly Lock _lock = new();

    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        if (connection.RemoteEndPoint is not IPEndPoint remote
            || (proxies.Contains(remote.Address) && !ProxyProtocolMiddleware.IsRelayed(connection)))
        {
            await next(connection);
            return;
        }

        var key = ClientAddress.PartitionKey(remote.Address);
        if (!TryOpen(key))
        {
            if (_throttle.ShouldLog(key, out var unlogged))
            {
                Log.ConnectionsPerIpExceeded(logger, key.ToString(), _limit, unlogged);
            }

            connection.Abort();
            return;
        }

        try
        {
            await next(connection);
        }
        finally
        {
            Close(key);
        }
    }

    private bool TryOpen(IPAddress key)
    {
        lock (_lock)
        {
            var open = _open.GetValueOrDefault(key);
            if (open >= _limit)
            {
                return false;
            }

            _open[key] = open + 1;
            return true;
        }
    }

    private void Close(IPAddress key)
    {
        lock (_lock)
        {
            if (_open[key] == 1)
            {
                _open.Remove(key);
            }
            else
            {
                _open[key]--;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.ConnectionsPerIpExceeded, LogLevel.Warning, "Client {RemoteIp} has {Limit} connections open (Limits:MaxConnectionsPerIp): closing its new ones; logged once a minute per address, {Unlogged} closed since the last report")]
        public static partial void ConnectionsPerIpExceeded(ILogger logger, string remoteIp, int limit, int unlogged);
    }
}
