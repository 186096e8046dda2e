using AnnexEdge.Health;
using AnnexEdge.Logging;
using AnnexEdge.Pipeline;
using AnnexEdge.Protocol;
using Yarp.ReverseProxy.Forwarder;

namespace AnnexEdge.Forwarding;

/// <summary>
/// In YARP's proxy pipeline, before load balancing: a bodiless request whose backend refused the connection
/// never reached that backend, so it is sent to another replica instead of failing the client.
/// Requests with bodies (put, keeplocked) are not retried: their body may already be spent.
/// </summary>
internal sealed partial class ConnectRetryMiddleware(RequestDelegate next, ILogger<ConnectRetryMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var proxy = context.GetReverseProxyFeature();
        var endpoint = context.GetP2pRequest()?.Request.Endpoint;
        if (endpoint is null or P2pEndpoint.Put or P2pEndpoint.KeepLocked)
        {
            await next(context);
            return;
        }

        var candidates = proxy.AvailableDestinations;
        for (var attempt = 0; ; attempt++)
        {
            await next(context);

            var error = context.Features.Get<IForwarderErrorFeature>();
            var failed = proxy.ProxiedDestination;
            if (error is null || context.Response.HasStarted || failed is null
                || !ConnectFailurePolicy.IsConnectFailure(error.Exception))
            {
                return;
            }

            candidates = candidates.Where(d => !ReferenceEquals(d, failed)).ToArray();
            if (candidates.Count == 0 || attempt >= 3)
            {
                return;
            }

            Log.ConnectRetry(logger, failed.DestinationId);
            context.Features.Set<IForwarderErrorFeature>(null);
            context.Response.StatusCode = StatusCodes.Status200OK;
            proxy.AvailableDestinations = candidates;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.ConnectRetry, LogLevel.Warning, "Backend {Backend} refused the connection; trying another replica")]
        public static partial void ConnectRetry(ILogger logger, string backend);
    }
}
