using AnnexEdge.Locking;
using AnnexEdge.Logging;
using AnnexEdge.Pipeline;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace AnnexEdge.Forwarding;

/// <summary>
/// What YARP's forwarder does around a repository's request. The backend request is written from the parsed
/// request (<see cref="BackendRequests"/>), never from the client's raw query. From the answer: which backend served
/// it, the data-length guard of a download, and a granted lock's lockid turned into a signed token that routes the
/// client's <c>keeplocked</c> back to that backend.
/// </summary>
internal sealed partial class P2pTransforms(LockTokenCodec tokens, ILogger<P2pTransforms> logger) : ITransformProvider
{
    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        context.AddRequestTransform(WriteBackendUri);
        context.AddResponseTransform(TransformAsync);
    }

    private static ValueTask WriteBackendUri(RequestTransformContext context)
    {
        // RepositoryClusterMiddleware lets no request without the feature this far.
        var feature = context.HttpContext.GetP2pRequest()!;
        BackendRequests.Address(context.ProxyRequest, context.DestinationPrefix, feature.Request);
        return ValueTask.CompletedTask;
    }

    private async ValueTask TransformAsync(ResponseTransformContext context)
    {
        var feature = context.HttpContext.GetP2pRequest();
        var response = context.ProxyResponse;
        if (feature?.Repository is not { } repository || response is null)
        {
            return;
        }

        // The backend's server banner says nothing a client needs and tells an attacker what runs behind the edge.
        context.HttpContext.Response.Headers.Remove("Server");

        var destination = context.HttpContext.GetReverseProxyFeature().ProxiedDestination;
        if (destination is not null)
        {
            feature.UsedBackend(destination.DestinationId);
        }

        if (feature.ResponseGuard is { } guard
            && feature.Request.Endpoint == P2pEndpoint.Key
            && !HttpMethods.IsHead(context.HttpContext.Request.Method)
            && response.Headers.TryGetValues(P2pRequestParser.DataLengthHeader, out var values))
        {
            // An announcement that is not one number cannot be checked: allow nothing through.
            guard.Expected = P2pAnswer.TryReadDataLength(values, out var announced) ? announced : 0;

            // A Content-Length that disagrees with the announcement would let a short body end cleanly before the
            // guard can cut the connection; chunked, the response is only complete if the guard lets it finish.
            if (context.HttpContext.Response.Headers.ContentLength is { } length && length != guard.Expected)
            {
                context.HttpContext.Response.Headers.ContentLength = null;
            }
        }

        if (feature.Request.Endpoint == P2pEndpoint.LockContent && response.IsSuccessStatusCode && destination is not null)
        {
            await RewriteLockAnswerAsync(context, feature, repository, destination.DestinationId);
        }
    }

    private async ValueTask RewriteLockAnswerAsync(ResponseTransformContext context, P2pRequestFeature feature, Repository repository, string backendId)
    {
        context.SuppressResponseBody = true;
        var http = context.HttpContext;
        http.Response.Headers.ContentLength = null;

        var body = await BoundedContent.ReadAsync(context.ProxyResponse!.Content, P2pAnswer.MaxBytes, context.CancellationToken);
        if (body is null || P2pAnswer.Parse(body) is not { } answer || !answer.TryReadLock(out var locked, out var lockId))
        {
            // Never pass on something a client might read as a lock: an unreadable answer is a failure.
            Log.LockAnswerInvalid(logger, backendId, repository.Name);
            await http.FailAsync("backend gave no valid lockcontent answer");
            return;
        }

        string? token = null;
        if (locked)
        {
            // LockReservationMiddleware forwards no lockcontent without its slot.
            var slot = feature.LockSlot!;
            var issuedAt = slot.Granted(
                lockId!, new LockRelease(repository.YarpClusterId, feature.Request with { Endpoint = P2pEndpoint.KeepLocked, LockId = lockId }));
            token = tokens.Issue(new LockToken(repository.Uuid, backendId, lockId!, slot.Key, slot.Client, issuedAt));
            Log.LockGranted(logger, backendId, repository.Name, feature.Request.Key);
        }

        // A refusal carries no lock: never show a client the backend's own lock ids.
        await http.AnswerAsync(P2pAnswers.Locked(locked, token));
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.LockGranted, LogLevel.Debug, "Backend {Backend} of {Repository} locked {Key}")]
        public static partial void LockGranted(ILogger logger, string backend, string repository, string? key);

        [LoggerMessage(EdgeEventIds.LockAnswerInvalid, LogLevel.Error, "Backend {Backend} of {Repository} gave an invalid lockcontent answer; the client gets 502")]
        public static partial void LockAnswerInvalid(ILogger logger, string backend, string repository);
    }
}
