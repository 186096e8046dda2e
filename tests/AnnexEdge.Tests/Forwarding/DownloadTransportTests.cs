using AnnexEdge.Configuration;
using AnnexEdge.Forwarding.Download;

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
    public void Edge_is_the_default()
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

    [Theory]
    [InlineData("Edge")]
    [InlineData("SocketsHttpHandler")]
    public void A_connection_limit_is_accepted_with_either_transport(string transport)
    {
        var options = Options(f =>
        {
            f.MaxConnectionsPerBackend = 8;
            f.DownloadTransport = transport;
        });

        Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));
    }

    [Fact]
    public void Edge_connects_through_low_water_streams_and_announces_the_data_length()
    {
        using var inner = new SocketsHttpHandler();
        var forwarding = new ForwardingOptions();

        DownloadTransport.Configure(inner, forwarding, TimeProvider.System);
        var handler = DownloadTransport.Wrap(inner, forwarding);

        Assert.NotNull(inner.ConnectCallback);
        var announcer = Assert.IsType<DataLengthAnnouncer>(handler);
        Assert.Same(inner, announcer.InnerHandler);
    }

    [Fact]
    public void Socketshttphandler_leaves_yarps_handler_alone()
    {
        using var inner = new SocketsHttpHandler();
        var forwarding = new ForwardingOptions { DownloadTransport = DownloadTransport.SocketsHttpHandler };

        DownloadTransport.Configure(inner, forwarding, TimeProvider.System);

        Assert.Null(inner.ConnectCallback);
        Assert.Same(inner, DownloadTransport.Wrap(inner, forwarding));
    }
}
