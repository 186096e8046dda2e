using AnnexEdge.Configuration;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace AnnexEdge.Forwarding;

/// <summary>YARP's client factory with a connect timeout, so a dead host is noticed in seconds, not minutes.</summary>
internal sealed class EdgeHttpClientFactory(ILogger<ForwarderHttpClientFactory> logger, IOptions<AnnexEdgeOptions> options)
    : ForwarderHttpClientFactory(logger)
{
    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        handler.ConnectTimeout = options.Value.Forwarding.ConnectTimeout;
    }
}
