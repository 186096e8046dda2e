using System.Net;
using AnnexEdge.Configuration;
using AnnexEdge.Forwarding;
using AnnexEdge.Logging;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace AnnexEdge.Git;

/// <summary>
/// Forwards git's smart-HTTP requests for a repository to its upstream git server (a forge) with YARP's forwarder,
/// streamed both ways. The upstream is asked for its own path plus the service (<c>UPSTREAM/info/refs?...</c>); the
/// client's credentials are for the edge and are never passed on.
/// </summary>
internal sealed partial class GitUpstreamProxy : IDisposable
{
    private readonly IHttpForwarder _forwarder;
    private readonly HttpMessageInvoker _client;
    private readonly ILogger<GitUpstreamProxy> _logger;

    public GitUpstreamProxy(IHttpForwarder forwarder, IOptions<AnnexEdgeOptions> options, ILogger<GitUpstreamProxy> logger)
    {
        _forwarder = forwarder;
        _logger = logger;
        _client = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = options.Value.Forwarding.ConnectTimeout,
        });
    }

    public async Task ServeAsync(HttpContext context, GitRepository repository, GitPath path)
    {
        var upstream = repository.Upstream!;
        var config = new ForwarderRequestConfig { ActivityTimeout = Timeout.InfiniteTimeSpan };
        var departure = ClientDeparture.Watch(context);
        var error = await _forwarder.SendAsync(
            context, upstream.GetLeftPart(UriPartial.Authority), _client, config, new Transformer(upstream.AbsolutePath.TrimEnd('/') + path.Rest));
        if (error != ForwarderError.None && !departure.ClientWentAway)
        {
            Log.UpstreamFailed(_logger, repository.Name, path.ServiceName, error.ToString(), context.GetForwarderErrorFeature()?.Exception?.Message);
        }
    }

    public void Dispose() => _client.Dispose();

    /// <summary>YARP's default transforms, the path replaced, and no Authorization or cookies of the client's.</summary>
    private sealed class Transformer(string upstreamPath) : HttpTransformer
    {
        public override async ValueTask TransformRequestAsync(
            HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
        {
            await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
            proxyRequest.RequestUri = new Uri(destinationPrefix + upstreamPath + httpContext.Request.QueryString.Value);
            proxyRequest.Headers.Authorization = null;
            proxyRequest.Headers.Remove("Cookie");
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.GitUpstreamFailed, LogLevel.Warning, "Git upstream of {Repository} failed {Service}: {Error} {Message}")]
        public static partial void UpstreamFailed(ILogger logger, string repository, string service, string error, string? message);
    }
}
