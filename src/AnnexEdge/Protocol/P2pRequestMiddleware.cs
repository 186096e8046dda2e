using AnnexEdge.Clusters;
using AnnexEdge.Locking;
using AnnexEdge.Logging;
using AnnexEdge.Routing;
using AnnexEdge.Security;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace AnnexEdge.Protocol;

/// <summary>
/// The P2P layer in front of routing: every <c>/git-annex/</c> request is parsed and validated here. Malformed
/// requests are answered as <c>git annex p2phttp</c> would answer them and unknown UUIDs get 404, without any
/// backend being contacted. Valid requests carry a <see cref="P2pRequestFeature"/> on to YARP.
/// </summary>
internal sealed partial class P2pRequestMiddleware(
    RequestDelegate next,
    RepositoryCatalog catalog,
    KeepLockedRelay keepLockedRelay,
    ClusterGateway clusterGateway,
    AccessGate accessGate,
    AuditLog audit,
    Serilog.IDiagnosticContext diagnostics,
    ILogger<P2pRequestMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        if (!path.StartsWith(P2pRequestParser.PathPrefix, StringComparison.Ordinal))
        {
            await next(context);
            return;
        }

        var parsed = P2pRequestParser.Parse(
            context.Request.Method,
            path,
            context.Request.QueryString.Value,
            context.Request.Headers.TryGetValue(P2pRequestParser.DataLengthHeader, out var length) ? length.ToString() : null);

        if (parsed.Rejection is { } rejection)
        {
            Log.RequestRejected(logger, rejection.StatusCode, rejection.Body);
            await WriteRejectionAsync(context, rejection);
            return;
        }

        var request = parsed.Request!;
        var cluster = catalog.FindCluster(request.Uuid);
        var repository = cluster is null ? catalog.Find(request.Uuid) : null;
        AccessTarget? target = cluster is not null ? AccessTarget.Of(cluster.Name)
            : repository is not null ? AccessPolicy.TargetOf(catalog, repository)
            : request.Uuid == catalog.GatewayUuid ? AccessTarget.Of(request.Uuid)
            : null;
        if (target is null)
        {
            Log.UnknownUuid(logger, request.Uuid);
            await WriteRejectionAsync(context, P2pRejection.NotFound);
            return;
        }

        // Before anything is forwarded, fanned out or read from the body.
        if (!await accessGate.AuthorizeAsync(context, request, target))
        {
            return;
        }

        diagnostics.Set(RequestLogProperties.Uuid, request.Uuid);
        diagnostics.Set(RequestLogProperties.Repository, cluster?.Name ?? repository?.Name ?? "gateway");
        diagnostics.Set(RequestLogProperties.Endpoint, request.Endpoint.Name());
        if (request.Key is not null)
        {
            diagnostics.Set(RequestLogProperties.Key, request.Key);
        }

        var audited = request.Endpoint.IsWrite() || request.Endpoint.IsRemoval();
        try
        {
            await ServeAsync(context, request, cluster, repository);
        }
        finally
        {
            if (audited)
            {
                audit.Write(context, request, target, context.User.Identity?.Name);
            }
        }
    }

    private async Task ServeAsync(HttpContext context, P2pRequest request, Cluster? cluster, Repository? repository)
    {
        if (cluster is not null)
        {
            await clusterGateway.ServeAsync(context, request, cluster);
            return;
        }

        if (repository is null)
        {
            await clusterGateway.ServeSelfAsync(context, request);
            return;
        }

        var path = context.Request.Path.Value ?? "";
        var feature = new P2pRequestFeature(request, repository);
        context.Features.Set(feature);

        if (request.UuidWasEncoded)
        {
            // Route and forward with the plain UUID; the backend treats both spellings alike.
            var rest = path.AsSpan(P2pRequestParser.PathPrefix.Length);
            var slash = rest.IndexOf('/');
            context.Request.Path = P2pRequestParser.PathPrefix + request.Uuid + rest[slash..].ToString();
        }

        var counter = new ByteCountingStream(context.Request.Body);
        context.Request.Body = counter;
        feature.CountRequestBody(counter);
        feature.ResponseGuard = new DataLengthGuardStream(context.Response.Body);
        context.Response.Body = feature.ResponseGuard;

        switch (request.Endpoint)
        {
            case P2pEndpoint.KeepLocked:
                await keepLockedRelay.RelayAsync(context, feature);
                return;
            case P2pEndpoint.Put:
                // No size limit and no minimum rate beyond Kestrel's default: a multi-GB object streams through.
                if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } max)
                {
                    max.MaxRequestBodySize = null;
                }

                break;
        }

        await next(context);

        if (feature.ResponseGuard is { Mismatch: true } guard && !context.RequestAborted.IsCancellationRequested)
        {
            // The backend ended the body early: end the client's connection so the copy cannot look complete.
            Log.DataLengthMismatch(logger, feature.BackendId, guard.Expected!.Value, guard.Written);
            context.Abort();
        }
    }

    internal static Task WriteRejectionAsync(HttpContext context, P2pRejection rejection)
    {
        context.Response.StatusCode = rejection.StatusCode;
        if (rejection.Body.Length == 0)
        {
            return Task.CompletedTask;
        }

        context.Response.ContentType = "text/plain;charset=utf-8";
        return context.Response.WriteAsync(rejection.Body, context.RequestAborted);
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.RequestRejected, LogLevel.Debug, "Refused a malformed p2phttp request with {StatusCode}: {Reason}")]
        public static partial void RequestRejected(ILogger logger, int statusCode, string reason);

        [LoggerMessage(EdgeEventIds.UnknownUuid, LogLevel.Debug, "No repository with UUID {Uuid} is configured")]
        public static partial void UnknownUuid(ILogger logger, string uuid);

        [LoggerMessage(EdgeEventIds.DataLengthMismatch, LogLevel.Warning, "Backend {Backend} announced {Expected} bytes but sent {Sent}; the client's connection was ended so the copy is not taken as complete")]
        public static partial void DataLengthMismatch(ILogger logger, string? backend, long expected, long sent);
    }
}
