using AnnexEdge.Clusters;
using AnnexEdge.Forwarding;
using AnnexEdge.Logging;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;

namespace AnnexEdge.Pipeline;

/// <summary>
/// The last P2P layer: hands the request to its target's handler. A cluster and the gateway's own UUID are served by
/// the edge itself (<see cref="ClusterGateway"/>, <see cref="GatewayRepository"/>); a repository goes on to routing
/// and YARP's forwarder, its download held to the length its backend announced.
/// </summary>
internal sealed partial class TargetMiddleware(
    RequestDelegate next, ClusterGateway clusters, GatewayRepository gateway, NodePuts puts, NodeClient nodes, ILogger<TargetMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        switch (context.GetP2pRequest())
        {
            case null:
                await next(context);
                return;
            case { Target: Cluster cluster } feature:
                await clusters.ServeAsync(context, feature, cluster);
                return;
            case { Target: Gateway } feature:
                await gateway.ServeAsync(context, feature);
                return;
            case var feature:
                await ProxyAsync(context, feature);
                return;
        }
    }

    private async Task ProxyAsync(HttpContext context, P2pRequestFeature feature)
    {
        var request = feature.Request;
        if (request is { Endpoint: P2pEndpoint.PutOffset, Key: { } small, Version: >= 1 } && NodePuts.IsSmall(small)
            && await nodes.StandingAsync(feature, feature.Repository!, context.RequestAborted) is { } standing)
        {
            // As for a cluster: the edge asks the node where it stands without taking p2phttp's transfer lock, so the
            // client's put that follows cannot meet it (seen: a -J4 client's put to a node through the edge unanswered
            // for 2 min). A larger key's putoffset goes to the node as it is: resuming it matters.
            await context.AnswerAsync(standing.Has ? P2pAnswers.AlreadyHave([], request.EffectiveVersion) : P2pAnswers.Offset(standing.Offset));
            return;
        }

        var guard = new DataLengthGuardStream(context.Response.Body);
        feature.ResponseGuard = guard;
        context.Response.Body = guard;
        var departure = ClientDeparture.Watch(context);

        if (request is { Endpoint: P2pEndpoint.Put, Key: { } key })
        {
            // One put of a key to a node at a time from this edge, whichever path sends it (NodePuts).
            using var claim = await puts.ClaimAsync(feature.Repository!, key, context.RequestAborted);
            await next(context);
        }
        else
        {
            await next(context);
        }

        if (guard.Mismatch && !departure.ClientWentAway)
        {
            // The backend ended the body early: end the client's connection so the copy cannot look complete.
            Log.DataLengthMismatch(logger, string.Join(',', feature.Backends), guard.Expected!.Value, guard.Written);
            context.Abort();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.DataLengthMismatch, LogLevel.Warning, "Backend {Backend} announced {Expected} bytes but sent {Sent}; the client's connection was ended so the copy is not taken as complete")]
        public static partial void DataLengthMismatch(ILogger logger, string backend, long expected, long sent);
    }
}
