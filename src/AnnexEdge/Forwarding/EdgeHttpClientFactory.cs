using AnnexEdge.Configuration;
using AnnexEdge.Forwarding.Download;
using AnnexEdge.Routing;
using AnnexEdge.Security;
using AnnexEdge.Telemetry;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace AnnexEdge.Forwarding;

/// <summary>
/// YARP's client factory with a connect timeout, so a dead host is noticed in seconds, not minutes, with the
/// repository's (or peer's) backend credentials in place of the client's, and with content downloads on the configured
/// <see cref="DownloadTransport"/>.
/// </summary>
internal sealed class EdgeHttpClientFactory(
    ILogger<ForwarderHttpClientFactory> logger, IOptions<AnnexEdgeOptions> options, RepositoryCatalog catalog, ProbeTimes probes, TimeProvider time)
    : ForwarderHttpClientFactory(logger)
{
    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        handler.ConnectTimeout = options.Value.Forwarding.ConnectTimeout;
    }

    protected override HttpMessageHandler WrapHandler(ForwarderHttpClientContext context, HttpMessageHandler handler)
    {
        var clusterId = context.ClusterId;
        var wrapped = DownloadTransport.Wrap(base.WrapHandler(context, handler), options.Value.Forwarding, time);
        return new BackendCredentialsHandler(new ProbeTimingHandler(wrapped, probes, time), () => catalog.Current.CredentialsFor(clusterId));
    }
}
