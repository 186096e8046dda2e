using AnnexEdge.Configuration;
using AnnexEdge.Forwarding.Download;
using Microsoft.Extensions.Logging.Abstractions;

namespace AnnexEdge.Tests.Forwarding;

/// <summary><c>AnnexEdge:Forwarding:DownloadTransport</c>: what it accepts, and what each value puts under YARP's handler.</summary>
public sealed class DownloadTransportTests
{
    private static AnnexEdgeOptions Options(Action<ForwardingOptions> change)
    {
        var options = new AnnexEdgeOptions
        {
            Repositories = [new RepositoryOptions { Name = "r", Uuid = "02e4e223-0b39-48fc-a031-e5a73d74ae92", Backends = ["http://h:1"] }],
        };
        change(options.Forwarding);
        return options;
    }

    [Fact]
    public void The_edges_own_connections_are_the_default()
    {
        Assert.Equal(DownloadTransport.Edge, new ForwardingOptions().DownloadTransport);
        Assert.Empty(AnnexEdgeOptionsValidator.Errors(Options(_ => { })));
    }

    [Theory]
    [InlineData("Edge")]
    [InlineData("SocketsHttpHandler")]
    public void Each_named_transport_is_accepted(string transport)
    {
        Assert.Empty(AnnexEdgeOptionsValidator.Errors(Options(f => f.DownloadTransport = transport)));
    }

    [Theory]
    [InlineData("edge")]
    [InlineData("Sockets")]
    [InlineData("")]
    public void An_unknown_transport_is_refused_with_the_names_to_use(string transport)
    {
        var error = Assert.Single(AnnexEdgeOptionsValidator.Errors(Options(f => f.DownloadTransport = transport)));

        Assert.Equal($"AnnexEdge:Forwarding:DownloadTransport \"{transport}\" is unknown; use one of Edge, SocketsHttpHandler", error);
    }

    [Fact]
    public void A_connection_limit_with_the_edges_own_connections_is_refused_naming_both_settings()
    {
        var error = Assert.Single(AnnexEdgeOptionsValidator.Errors(Options(f => f.MaxConnectionsPerBackend = 8)));

        Assert.Contains("AnnexEdge:Forwarding:MaxConnectionsPerBackend 8", error, StringComparison.Ordinal);
        Assert.Contains("AnnexEdge:Forwarding:DownloadTransport Edge", error, StringComparison.Ordinal);
        Assert.Contains("SocketsHttpHandler", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_connection_limit_with_socketshttphandler_is_accepted()
    {
        var options = Options(f =>
        {
            f.MaxConnectionsPerBackend = 8;
            f.DownloadTransport = DownloadTransport.SocketsHttpHandler;
        });

        Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));
    }

    [Fact]
    public void Edge_puts_its_own_download_handler_over_yarps()
    {
        using var inner = new SocketsHttpHandler();

        var handler = DownloadTransport.Wrap(inner, new ForwardingOptions(), TimeProvider.System, NullLogger<KeyDownloadHandler>.Instance);

        var downloads = Assert.IsType<KeyDownloadHandler>(handler);
        Assert.Same(inner, downloads.InnerHandler);
    }

    [Fact]
    public void Socketshttphandler_leaves_yarps_handler_alone()
    {
        using var inner = new SocketsHttpHandler();

        var handler = DownloadTransport.Wrap(inner, new ForwardingOptions { DownloadTransport = DownloadTransport.SocketsHttpHandler }, TimeProvider.System, NullLogger<KeyDownloadHandler>.Instance);

        Assert.Same(inner, handler);
    }
}
