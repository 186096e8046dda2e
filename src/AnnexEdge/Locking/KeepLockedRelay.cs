using System.Text;
using AnnexEdge.Logging;
using AnnexEdge.Protocol;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Forwarder;

namespace AnnexEdge.Locking;

/// <summary>
/// Relays <c>keeplocked</c> to the very backend that granted the lock, named by the signed lock token. The
/// long poll is bounded by the client and the protocol's lock lifetime, not by a proxy activity timeout, and
/// the client may stay silent between its newline-delimited messages. If that backend is gone the request
/// fails visibly: answering anything else could make a client believe a lock is held.
/// </summary>
internal sealed partial class KeepLockedRelay(
    IHttpForwarder forwarder,
    IProxyStateLookup proxyState,
    LockTokenCodec tokens,
    Serilog.IDiagnosticContext diagnostics,
    ILogger<KeepLockedRelay> logger)
{
    private static readonly ForwarderRequestConfig RequestConfig = new()
    {
        ActivityTimeout = Timeout.InfiniteTimeSpan,
        AllowResponseBuffering = false,
    };

    public async Task RelayAsync(HttpContext context, P2pRequestFeature feature)
    {
        var request = feature.Request;
        var repository = feature.Repository;
        if (!tokens.TryRead(request.LockId!, repository.Uuid, out var backendId, out var backendLockId))
        {
            Log.LockTokenRefused(logger, repository.Name);
            await P2pRequestMiddleware.WriteRejectionAsync(
                context, P2pRejection.BadParameter("lockid", "not a lock granted by this edge for this repository"));
            return;
        }

        feature.BackendId = backendId;
        diagnostics.Set(RequestLogProperties.Backend, backendId);
        if (!proxyState.TryGetCluster(repository.ClusterId, out var cluster)
            || !cluster.Destinations.TryGetValue(backendId, out var destination))
        {
            Log.LockBackendGone(logger, backendId, repository.Name);
            context.Response.StatusCode = StatusCodes.Status502BadGateway;
            await context.Response.WriteAsync("the backend that granted this lock is no longer configured", context.RequestAborted);
            return;
        }

        // The client sends a line now and then, maybe minutes apart; Kestrel's minimum data rate would cut it.
        if (context.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } rate)
        {
            rate.MinDataRate = null;
        }

        destination.ConcurrentRequestCount++;
        try
        {
            var error = await forwarder.SendAsync(
                context,
                destination.Model.Config.Address,
                cluster.Model.HttpClient,
                RequestConfig,
                new LockIdTransformer(backendLockId));
            if (error != ForwarderError.None)
            {
                Log.KeepLockedFailed(logger, backendId, error);
            }
        }
        finally
        {
            destination.ConcurrentRequestCount--;
        }
    }

    /// <summary>Puts the backend's own lockid back in place of the token.</summary>
    private sealed class LockIdTransformer(string backendLockId) : HttpTransformer
    {
        public override async ValueTask TransformRequestAsync(
            HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
        {
            await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
            var query = new StringBuilder();
            foreach (var (name, values) in httpContext.Request.Query)
            {
                foreach (var value in values)
                {
                    query.Append(query.Length == 0 ? '?' : '&')
                        .Append(Uri.EscapeDataString(name)).Append('=')
                        .Append(Uri.EscapeDataString(name == "lockid" ? backendLockId : value ?? ""));
                }
            }

            proxyRequest.RequestUri = RequestUtilities.MakeDestinationAddress(
                destinationPrefix, httpContext.Request.Path, new QueryString(query.ToString()));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.LockTokenRefused, LogLevel.Warning, "Refused keeplocked for {Repository}: the lockid is not a token this edge signed for it")]
        public static partial void LockTokenRefused(ILogger logger, string repository);

        [LoggerMessage(EdgeEventIds.LockBackendGone, LogLevel.Warning, "keeplocked names backend {Backend} of {Repository}, which is no longer configured; the client is told the lock cannot be kept")]
        public static partial void LockBackendGone(ILogger logger, string backend, string repository);

        [LoggerMessage(EdgeEventIds.KeepLockedFailed, LogLevel.Warning, "keeplocked to backend {Backend} failed: {Error}")]
        public static partial void KeepLockedFailed(ILogger logger, string backend, ForwarderError error);
    }
}
