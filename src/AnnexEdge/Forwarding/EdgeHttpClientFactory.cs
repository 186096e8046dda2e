using AnnexEdge.Configuration;
using AnnexEdge.Forwarding.Download;
using AnnexEdge.Routing;
using AnnexEdge.Security;
using AnnexEdge.Telemetry;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace AnnexEdge.Forwarding;

/// <summary>
/// YARP's client factory with a connect timeout, so a dead host is noticed in seconds, not minutes, with the
/// repository's (or peer's) backend credentials in place of the client's, and with content downloads on the configured
/// <see cref="DownloadTransport"/>. The repositories of <c>Directories</c> share one client (see
/// <see cref="SharedClientMetadata"/>).
/// </summary>
internal sealed class EdgeHttpClientFactory(
    ILogger<ForwarderHttpClientFactory> logger,
    IOptions<AnnexEdgeOptions> options,
    RepositoryCatalog catalog,
    ProbeTimes probes,
    TimeProvider time,
    ILogger<KeyDownloadHandler> downloadLogger)
    : ForwarderHttpClientFactory(logger), IForwarderHttpClientFactory
{
    /// <summary>
    /// Cluster metadata key of a YARP cluster whose client is shared. A client per YARP cluster gave each of a
    /// directory's repositories its own connection pools to the same backend, so requests spread over 10,000
    /// repositories opened a connection each instead of reusing one, and kept them idle per repository.
    /// </summary>
    public const string SharedClientMetadata = "AnnexEdge.SharedClient";

    private readonly Lock _sharedLock = new();
    private (HttpClientConfig Config, HttpMessageInvoker Client)? _shared;

    HttpMessageInvoker IForwarderHttpClientFactory.CreateClient(ForwarderHttpClientContext context)
    {
        if (context.NewMetadata?.ContainsKey(SharedClientMetadata) != true)
        {
            return CreateClient(context);
        }

        lock (_sharedLock)
        {
            // All shared clusters get the same HttpClientConfig from the options; a reload that changes it makes a new
            // client, and YARP's clusters still holding the old one keep it for their requests in flight.
            if (_shared is not { } shared || shared.Config != context.NewConfig)
            {
                shared = (context.NewConfig, CreateClient(new ForwarderHttpClientContext { ClusterId = context.ClusterId, NewConfig = context.NewConfig, NewMetadata = context.NewMetadata }));
                _shared = shared;
            }

            return shared.Client;
        }
    }

    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        handler.ConnectTimeout = options.Value.Forwarding.ConnectTimeout;
    }

    protected override HttpMessageHandler WrapHandler(ForwarderHttpClientContext context, HttpMessageHandler handler)
    {
        var wrapped = DownloadTransport.Wrap(base.WrapHandler(context, handler), options.Value.Forwarding, time, downloadLogger);
        var timed = new ProbeTimingHandler(wrapped, probes, time);
        if (context.NewMetadata?.ContainsKey(SharedClientMetadata) == true)
        {
            // A directory's repositories have no backend credentials of their own (Directories[] has none to give).
            return new BackendCredentialsHandler(timed, static () => BackendCredentials.None);
        }

        var clusterId = context.ClusterId;
        return new BackendCredentialsHandler(timed, () => catalog.Current.CredentialsFor(clusterId));
    }
}
