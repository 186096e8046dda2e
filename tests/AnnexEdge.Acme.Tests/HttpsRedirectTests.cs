using AnnexEdge.Acme.Hosting;

namespace AnnexEdge.Acme.Tests;

public sealed class HttpsRedirectTests
{
    private static readonly string[] Domains = ["edge.example.org", "annex.example.org"];

    [Theory]
    [InlineData("evil.example")]
    [InlineData("edge.example.org.evil.example")]
    [InlineData("127.0.0.1")]
    [InlineData("")]
    public void A_host_that_is_not_configured_is_sent_to_the_first_configured_domain_with_the_same_path(string host)
    {
        Assert.Equal("https://edge.example.org:8443/git-annex/u/v4/key/K?clientuuid=c", HttpsRedirect.Location(host, Domains, 8443, "/git-annex/u/v4/key/K?clientuuid=c"));
    }

    [Theory]
    [InlineData("annex.example.org")]
    [InlineData("ANNEX.Example.org")]
    [InlineData("annex.example.org.")]
    public void A_configured_domain_stays_the_one_asked_for_as_configured(string host)
    {
        Assert.Equal("https://annex.example.org/p", HttpsRedirect.Location(host, Domains, 443, "/p"));
    }
}
