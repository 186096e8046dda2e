using System.Net;
using AnnexEdge.Connections;

namespace AnnexEdge.Tests.Connections;

public sealed class TrustedProxiesTests
{
    private static readonly TrustedProxies Proxies = new(["10.0.0.0/8", "192.0.2.10", "2001:db8::/32"]);

    [Theory]
    [InlineData("10.1.2.3", true)]
    [InlineData("::ffff:10.1.2.3", true)]
    [InlineData("192.0.2.10", true)]
    [InlineData("192.0.2.11", false)]
    [InlineData("2001:db8:ffff::1", true)]
    [InlineData("2001:db9::1", false)]
    [InlineData("127.0.0.1", false)]
    [InlineData("::1", false)]
    public void Addresses_in_a_listed_network_or_listed_alone_are_trusted_and_loopback_is_not_by_default(string address, bool trusted)
    {
        Assert.Equal(trusted, Proxies.Contains(IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData("10.0.0.1/8")]
    [InlineData("10.0.0.0/33")]
    [InlineData("proxy.example.org")]
    [InlineData("")]
    public void Host_bits_impossible_prefixes_and_names_are_not_networks(string entry)
    {
        Assert.False(TrustedProxies.TryParse(entry, out _));
    }
}
