using System.Net;
using AnnexEdge.Configuration;
using AnnexEdge.Logging;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;

namespace AnnexEdge.Connections;

/// <summary>
/// <c>Limits:ProxyProtocol</c>: reads the PROXY protocol header a load balancer puts before TLS and HTTP, and makes
/// the client it names the connection's remote address, which Kestrel gives every request (rate limits, login
/// throttle, lock quotas, <see cref="ConnectionLimitMiddleware"/>, the audit and request logs, the loopback-only
/// status). A trusted proxy's connection must begin with one; anyone else's must not (it would be a forged address).
/// Everything else closes the connection: a malformed header, no header in <c>Limits:RequestHeadersTimeout</c>.
/// </summary>
internal sealed partial class ProxyProtocolMiddleware(
    IOptions<AnnexEdgeOptions> options, TrustedProxies proxies, TimeProvider time,
    ILogger<ProxyProtocolMiddleware> logger)
{
    private static readonly object RelayedKey = new();

    private readonly AddressLogThrottle _throttle = new(time);
    private readonly TimeSpan _timeout = options.Value.Limits.RequestHeadersTimeout;

    /// <summary>Whether the connection's remote address came from a PROXY header.</summary>
    public static bool IsRelayed(ConnectionContext connection) => connection.Items.ContainsKey(RelayedKey);

    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        if (connection.RemoteEndPoint is not IPEndPoint peer)
        {
            await next(connection);
            return;
        }

        if (await RefusalAsync(connection, peer) is not { } refusal)
        {
            await next(connection);
            return;
        }

        if (refusal.Length > 0 && _throttle.ShouldLog(ClientAddress.Normalize(peer.Address), out var unlogged))
        {
            Log.ProxyHeaderRefused(logger, peer.Address.ToString(), refusal, unlogged);
        }

        connection.Abort();
    }

    /// <summary>Why the connection must be closed (empty: without a log line), or null when it may go on.</summary>
    private async Task<string?> RefusalAsync(ConnectionContext connection, IPEndPoint peer)
    {
        var trusted = proxies.Contains(peer.Address);
        using var timeout = new CancellationTokenSource(_timeout, time);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, connection.ConnectionClosed);
        try
        {
            return await ReadHeaderAsync(connection, peer, trusted, cancel.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // Kestrel's own timeouts would cut an untrusted client that says too little in time, without a word too.
            return trusted && e is OperationCanceledException && timeout.IsCancellationRequested
                ? "no PROXY header within Limits:RequestHeadersTimeout" : "";
        }
    }

    /// <summary>Consumes the header and sets the remote address; returns why the connection must be closed, if it must.</summary>
    private static async Task<string?> ReadHeaderAsync(ConnectionContext connection, IPEndPoint peer, bool trusted, CancellationToken cancel)
    {
        var input = connection.Transport.Input;
        var result = await input.ReadAtLeastAsync(ProxyHeader.SniffLength, cancel);
        while (true)
        {
            var buffer = result.Buffer;
            var header = ProxyHeader.Parse(buffer);
            if (!trusted)
            {
                // Left unread and unexamined, for TLS or HTTP to read as if nothing had looked.
                input.AdvanceTo(buffer.Start, buffer.Start);
                return header.Kind == ProxyHeaderKind.None ? null : "a PROXY header from an address not in Limits:TrustedProxies";
            }

            switch (header.Kind)
            {
                case ProxyHeaderKind.None:
                    input.AdvanceTo(buffer.Start);
                    return "no PROXY header from a trusted proxy (Limits:ProxyProtocol is true)";
                case ProxyHeaderKind.Invalid:
                    input.AdvanceTo(buffer.Start);
                    return "a malformed PROXY header";
                case ProxyHeaderKind.Incomplete when result.IsCompleted:
                    input.AdvanceTo(buffer.Start, buffer.End);
                    return "a PROXY header cut short";
                case ProxyHeaderKind.Incomplete:
                    input.AdvanceTo(buffer.Start, buffer.End);
                    result = await input.ReadAsync(cancel);
                    continue;
                case ProxyHeaderKind.Local:
                    input.AdvanceTo(buffer.GetPosition(header.Length));
                    return null;
                default:
                    input.AdvanceTo(buffer.GetPosition(header.Length));
                    connection.RemoteEndPoint = header.Source!;
                    connection.Items[RelayedKey] = peer;
                    return null;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.ProxyHeaderRefused, LogLevel.Warning, "Connection from {RemoteIp} closed: {Reason}; logged once a minute per address, {Unlogged} closed since the last report")]
        public static partial void ProxyHeaderRefused(ILogger logger, string remoteIp, string reason, int unlogged);
    }
}
