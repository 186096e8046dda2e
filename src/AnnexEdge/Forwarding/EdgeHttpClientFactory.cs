using AnnexEdge.Configuration;
using AnnexEdge.Routing;
using AnnexEdge.Security;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace AnnexEdge.Forwarding;

/// <summary>
/// YARP's client factory with a connect timeout, so a dead host is noticed in seconds, not minutes, with the
/// repository's backend credentials in place of the client's, and with content downloads on the edge's own
/// batched connections (<see cref="KeyDownloadHandler"/>).
/// </summary>
internal sealed class EdgeHttpClientFactory(
    ILogger<ForwarderHttpClientFactory> logger, IOptions<AnnexEdgeOptions> options, RepositoryCatalog catalog)
    : ForwarderHttpClientFactory(logger)
{
    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        handler.ConnectTimeout = options.Value.Forwarding.ConnectTimeout;
    }

    protected override HttpMessageHandler WrapHandler(ForwarderHttpClientContext context, HttpMessageHandler handler)
    {
        var name = catalog.Repositories.FirstOrDefault(r => r.YarpClusterId == context.ClusterId)?.Name;
        var repository = options.Value.Repositories.FirstOrDefault(r => r.Name == name);
        var forwarding = options.Value.Forwarding;
        var wrapped = base.WrapHandler(context, handler);

        // The download path keeps its own connections, so a per-backend connection cap leaves it to SocketsHttpHandler.
        if (forwarding.MaxConnectionsPerBackend <= 0)
        {
            wrapped = new KeyDownloadHandler(
                wrapped, new BackendConnectionPool(TimeProvider.System), forwarding.ConnectTimeout, forwarding.DangerousAcceptAnyBackendCertificate);
        }

        return new BackendCredentialsHandler(
            wrapped,
            repository?.BackendUser,
            repository?.BackendPassword,
            repository?.ForwardClientAuthorization ?? false);
    }
}
