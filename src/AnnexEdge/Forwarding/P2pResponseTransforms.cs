using System.Buffers;
using AnnexEdge.Locking;
using AnnexEdge.Logging;
using AnnexEdge.Protocol;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace AnnexEdge.Forwarding;

/// <summary>
/// What the edge does with a backend's answer before the client sees it: notes which backend served it,
/// arms the data-length guard of a download, and turns a granted lock's lockid into a signed token that
/// routes the client's <c>keeplocked</c> back to that backend.
/// </summary>
internal sealed partial class P2pResponseTransforms(
    LockTokenCodec tokens,
    Serilog.IDiagnosticContext diagnostics,
    ILogger<P2pResponseTransforms> logger) : ITransformProvider
{
    /// <summary>A lockcontent answer is a tiny JSON object; anything larger is not one.</summary>
    private const int MaxLockAnswerBytes = 16 * 1024;

    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context) => context.AddResponseTransform(TransformAsync);

    private async ValueTask TransformAsync(ResponseTransformContext context)
    {
        var feature = context.HttpContext.GetP2pRequest();
        var response = context.ProxyResponse;
        if (feature is null || response is null)
        {
            return;
        }

        // The backend's server banner says nothing a client needs and tells an attacker what runs behind the edge.
        context.HttpContext.Response.Headers.Remove("Server");

        var destination = context.HttpContext.GetReverseProxyFeature().ProxiedDestination;
        if (destination is not null)
        {
            feature.BackendId = destination.DestinationId;
            diagnostics.Set(RequestLogProperties.Backend, destination.DestinationId);
        }

        if (feature.ResponseGuard is { } guard
            && feature.Request.Endpoint == P2pEndpoint.Key
            && !HttpMethods.IsHead(context.HttpContext.Request.Method)
            && response.Headers.TryGetValues(P2pRequestParser.DataLengthHeader, out var values)
            && long.TryParse(values.FirstOrDefault(), out var announced))
        {
            guard.Expected = announced;

            // A Content-Length that disagrees with the announcement would let a short body end cleanly before the
            // guard can cut the connection; chunked, the response is only complete if the guard lets it finish.
            if (context.HttpContext.Response.Headers.ContentLength is { } length && length != announced)
            {
                context.HttpContext.Response.Headers.ContentLength = null;
            }
        }

        if (feature.Request.Endpoint == P2pEndpoint.LockContent && response.IsSuccessStatusCode && destination is not null)
        {
            await RewriteLockAnswerAsync(context, feature, destination.DestinationId);
        }
    }

    private async ValueTask RewriteLockAnswerAsync(ResponseTransformContext context, P2pRequestFeature feature, string backendId)
    {
        context.SuppressResponseBody = true;
        var http = context.HttpContext;
        http.Response.Headers.ContentLength = null;

        var body = await BoundedContent.ReadAsync(context.ProxyResponse!.Content, MaxLockAnswerBytes, context.CancellationToken);
        if (body is null || !LockAnswer.TryParse(body, out var answer))
        {
            // Never pass on something a client might read as a lock: an unreadable answer is a failure.
            Log.LockAnswerInvalid(logger, backendId, feature.Repository.Name);
            http.Response.StatusCode = StatusCodes.Status502BadGateway;
            http.Response.ContentType = "text/plain;charset=utf-8";
            await http.Response.WriteAsync("backend gave no valid lockcontent answer", context.CancellationToken);
            return;
        }

        if (!answer.Locked)
        {
            // A refusal carries no lock: never show a client the backend's own lock ids.
            answer = answer with { LockId = null };
        }
        else if (answer.LockId is { } lockId)
        {
            feature.LockSlot?.Granted(lockId);
            answer = answer with { LockId = tokens.Issue(feature.Repository.Uuid, backendId, lockId) };
            Log.LockGranted(logger, backendId, feature.Repository.Name, feature.Request.Key);
        }

        http.Response.ContentType = "application/json;charset=utf-8";
        await http.Response.Body.WriteAsync(answer.ToJson(), context.CancellationToken);
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.LockGranted, LogLevel.Debug, "Backend {Backend} of {Repository} locked {Key}")]
        public static partial void LockGranted(ILogger logger, string backend, string repository, string? key);

        [LoggerMessage(EdgeEventIds.LockAnswerInvalid, LogLevel.Error, "Backend {Backend} of {Repository} gave an invalid lockcontent answer; the client gets 502")]
        public static partial void LockAnswerInvalid(ILogger logger, string backend, string repository);
    }
}
