using AnnexEdge.Pipeline;
using Serilog;

namespace AnnexEdge.Logging;

/// <summary>
/// The one request-log event of a P2P request: <c>Uuid</c>, the target (<c>Repository</c> or <c>Cluster</c>),
/// <c>Endpoint</c>, <c>Key</c>, <c>Backend</c> (every backend used, comma-separated; <c>edge</c> when the edge answered
/// alone), <c>BytesIn</c>, <c>BytesOut</c> and <c>User</c>, all read from the <see cref="P2pRequestFeature"/>;
/// and on every request <c>RemoteIp</c>, the client's address. A git request logs its <c>Uuid</c> (the annex.uuid its
/// config gives), target and git service as <c>Endpoint</c>.
/// </summary>
internal static class RequestLog
{
    /// <summary>What <c>Backend</c> says when no backend was asked (the gateway's own answers, refusals, lock policy).</summary>
    public const string EdgeItself = "edge";

    public static void Enrich(IDiagnosticContext diagnostics, HttpContext context)
    {
        // The client's own address, also behind a trusted proxy (PROXY protocol or X-Forwarded-For).
        diagnostics.Set(RequestLogProperties.RemoteIp, context.Connection.RemoteIpAddress?.ToString());
        if (context.User.Identity?.Name is { } user)
        {
            diagnostics.Set(RequestLogProperties.User, user);
        }

        if (context.Features.Get<Git.GitRequestFeature>() is { } git)
        {
            diagnostics.Set(RequestLogProperties.Uuid, git.Repository.AnnexUuid);
            diagnostics.Set(git.Repository.Target.LogProperty, git.Repository.Name);
            diagnostics.Set(RequestLogProperties.Endpoint, git.Path.ServiceName);
            return;
        }

        if (context.GetP2pRequest() is not { } feature)
        {
            return;
        }

        var request = feature.Request;
        diagnostics.Set(RequestLogProperties.Uuid, request.Uuid);
        diagnostics.Set(feature.Target.LogProperty, feature.Target.Name);
        diagnostics.Set(RequestLogProperties.Endpoint, Protocol.P2pEndpoints.Name(request.Endpoint));
        if (request.Key is not null)
        {
            diagnostics.Set(RequestLogProperties.Key, request.Key);
        }

        var backends = feature.Backends;
        diagnostics.Set(RequestLogProperties.Backend, backends.Count == 0 ? EdgeItself : string.Join(',', backends));
        diagnostics.Set(RequestLogProperties.BytesIn, feature.BytesIn);
        diagnostics.Set(RequestLogProperties.BytesOut, feature.BytesOut);
    }
}
