using AnnexEdge.Acme;
using AnnexEdge.Configuration;
using AnnexEdge.Git;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AnnexEdge.Tests.Git;

public sealed class AnnexConfigTests
{
    private const string Uuid = "02e4e223-0b39-48fc-a031-e5a73d74ae92";

    [Fact]
    public void Config_gives_the_uuid_and_the_p2phttp_url_in_git_config_syntax() =>
        Assert.Equal(
            $"[annex]\n\tuuid = {Uuid}\n\turl = annex+https://edge.example.org/git-annex/\n",
            AnnexConfig.Text(Uuid, "https://edge.example.org/"));

    [Fact]
    public void Config_without_a_public_url_gives_no_url_line() =>
        Assert.Equal($"[annex]\n\tuuid = {Uuid}\n", AnnexConfig.Text(Uuid, null));

    [Fact]
    public void Configured_public_url_wins_over_the_request()
    {
        var config = new AnnexConfig(new AnnexEdgeOptions { PublicUrl = "https://edge.example.org/" }, Server("http://127.0.0.1:8080"));
        Assert.Equal("https://edge.example.org", config.PublicUrl(Request("http", "attacker.example")));
    }

    [Theory]
    [InlineData("http", "127.0.0.1:8080", "http://127.0.0.1:8080")]       // a listen address as bound
    [InlineData("https", "edge.example.org", "https://edge.example.org")]  // an ACME domain
    [InlineData("https", "EDGE.example.org:8443", "https://EDGE.example.org:8443")]
    [InlineData("http", "attacker.example", null)]
    [InlineData("http", "127.0.0.1:9999", null)]                           // another port than the one bound
    [InlineData("https", "127.0.0.1:8080", null)]                          // another scheme than the one bound
    [InlineData("http", "[::]:8081", null)]                                // a wildcard listener says nothing about names
    public void Public_url_is_derived_only_from_a_host_the_edge_knows(string scheme, string host, string? expected)
    {
        var options = new AnnexEdgeOptions { Acme = new AcmeOptions { Domains = ["edge.example.org"] } };
        var config = new AnnexConfig(options, Server("http://127.0.0.1:8080", "http://[::]:8081"));

        Assert.Equal(expected, config.PublicUrl(Request(scheme, host)));
    }

    private static HttpRequest Request(string scheme, string host)
    {
        var context = new DefaultHttpContext();
        context.Request.Scheme = scheme;
        context.Request.Host = new HostString(host);
        return context.Request;
    }

    private static FakeServer Server(params string[] addresses)
    {
        var features = new FeatureCollection();
        var feature = new ServerAddressesFeature();
        foreach (var address in addresses)
        {
            feature.Addresses.Add(address);
        }

        features.Set<IServerAddressesFeature>(feature);
        return new FakeServer(features);
    }

    private sealed class ServerAddressesFeature : IServerAddressesFeature
    {
        public ICollection<string> Addresses { get; } = [];

        public bool PreferHostingUrls { get; set; }
    }

    private sealed class FakeServer(IFeatureCollection features) : IServer
    {
        public IFeatureCollection Features { get; } = features;

        public void Dispose()
        {
        }

        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
            where TContext : notnull => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
