using System.Net;
using AnnexEdge.Connections;

namespace AnnexEdge.Tests.Connections;

public sealed class ClientAddressTests
{
    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7")]
    [InlineData("::ffff:203.0.113.7", "203.0.113.7")]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::")]
    [InlineData("2001:db8:1:2::ffff", "2001:db8:1:2::")]
    [InlineData("::1", "::")]
    public void An_ipv4_client_counts_by_its_address_and_an_ipv6_client_by_its_64(string address, string key)
    {
        Assert.Equal(IPAddress.Parse(key), ClientAddress.PartitionKey(IPAddress.Parse(address)));
    }
}
