using System.Buffers.Binary;
using System.Net;
using System.Text;
using AnnexEdge.Connections;

namespace AnnexEdge.Tests.Connections;

public sealed class ProxyHeaderTests
{
    private static readonly byte[] Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>A v2 header with these version/command and family/transport bytes, addresses and TLVs.</summary>
    private static byte[] V2(byte versionCommand, byte familyTransport, byte[] addresses)
    {
        var length = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)addresses.Length);
        return [.. Signature, versionCommand, familyTransport, .. length, .. addresses];
    }

    private static byte[] Inet4(string source, ushort port) =>
        [.. IPAddress.Parse(source).GetAddressBytes(), 127, 0, 0, 1, (byte)(port >> 8), (byte)port, 0x01, 0xBB];

    private static byte[] Inet6(string source, ushort port) =>
        [.. IPAddress.Parse(source).GetAddressBytes(), .. IPAddress.IPv6Loopback.GetAddressBytes(), (byte)(port >> 8), (byte)port, 0x01, 0xBB];

    private static ProxyHeader Parse(byte[] data) => ProxyHeader.Parse(data);

    [Fact]
    public void A_v2_proxy_header_for_tcp_over_ipv4_names_the_source_and_its_length()
    {
        var header = V2(0x21, 0x11, Inet4("203.0.113.7", 40001));

        Assert.Equal(new ProxyHeader(ProxyHeaderKind.Proxy, 28, new IPEndPoint(IPAddress.Parse("203.0.113.7"), 40001)), Parse([.. header, .. "GET / HTTP/1.1\r\n"u8]));
    }

    [Fact]
    public void A_v2_proxy_header_for_tcp_over_ipv6_with_tlvs_is_consumed_whole()
    {
        byte[] tlv = [0x04, 0x00, 0x03, 0xAA, 0xBB, 0xCC];
        var header = V2(0x21, 0x21, [.. Inet6("2001:db8::7", 443), .. tlv]);

        var parsed = Parse([.. header, 0x16, 0x03, 0x01]);

        Assert.Equal(ProxyHeaderKind.Proxy, parsed.Kind);
        Assert.Equal(16 + 36 + tlv.Length, parsed.Length);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::7"), 443), parsed.Source);
    }

    [Theory]
    [InlineData(0x20, 0x00)] // LOCAL: the proxy's own connection (a health check)
    [InlineData(0x20, 0x11)] // LOCAL with addresses: still the proxy's own
    [InlineData(0x21, 0x00)] // PROXY with UNSPEC: addresses to be ignored
    [InlineData(0x21, 0x31)] // PROXY for a unix socket client: no IP address to give
    public void A_v2_header_without_an_ip_client_keeps_the_peers_address(byte versionCommand, byte familyTransport)
    {
        var addresses = familyTransport == 0x31 ? new byte[216] : familyTransport == 0x11 ? Inet4("203.0.113.7", 1) : [];

        var parsed = Parse(V2(versionCommand, familyTransport, addresses));

        Assert.Equal(new ProxyHeader(ProxyHeaderKind.Local, 16 + addresses.Length), parsed);
    }

    [Theory]
    [InlineData(0x11, 0x11)] // version 1 in a v2 header
    [InlineData(0x31, 0x11)] // version 3
    [InlineData(0x22, 0x11)] // command 2
    [InlineData(0x21, 0x12)] // a datagram client
    [InlineData(0x21, 0x41)] // an unknown family
    public void A_v2_header_breaking_the_specification_is_invalid(byte versionCommand, byte familyTransport)
    {
        Assert.Equal(ProxyHeaderKind.Invalid, Parse(V2(versionCommand, familyTransport, Inet4("203.0.113.7", 1))).Kind);
    }

    [Fact]
    public void A_v2_header_with_addresses_shorter_than_its_family_needs_is_invalid()
    {
        Assert.Equal(ProxyHeaderKind.Invalid, Parse(V2(0x21, 0x21, Inet4("203.0.113.7", 1))).Kind);
    }

    [Fact]
    public void A_v2_header_longer_than_the_limit_is_invalid_before_it_has_all_arrived()
    {
        byte[] head = [.. Signature, 0x21, 0x11, 0xFF, 0xFF];

        Assert.Equal(ProxyHeaderKind.Invalid, Parse(head).Kind);
    }

    [Fact]
    public void A_v2_header_is_incomplete_until_its_signature_length_and_addresses_have_arrived()
    {
        var header = V2(0x21, 0x11, Inet4("203.0.113.7", 1));

        for (var length = 1; length < header.Length; length++)
        {
            Assert.Equal(ProxyHeaderKind.Incomplete, Parse(header[..length]).Kind);
        }
    }

    [Theory]
    [InlineData("PROXY TCP4 203.0.113.7 127.0.0.1 40001 443\r\n", "203.0.113.7", 40001)]
    [InlineData("PROXY TCP6 2001:db8::7 ::1 65535 443\r\n", "2001:db8::7", 65535)]
    public void A_v1_header_names_the_source(string line, string address, int port)
    {
        var parsed = Parse([.. Encoding.ASCII.GetBytes(line), .. "GET /"u8]);

        Assert.Equal(new ProxyHeader(ProxyHeaderKind.Proxy, line.Length, new IPEndPoint(IPAddress.Parse(address), port)), parsed);
    }

    [Fact]
    public void A_v1_unknown_header_keeps_the_peers_address()
    {
        Assert.Equal(new ProxyHeader(ProxyHeaderKind.Local, 15), Parse("PROXY UNKNOWN\r\n"u8.ToArray()));
    }

    [Theory]
    [InlineData("PROXY TCP4 203.0.113.7 127.0.0.1 40001\r\n")]
    [InlineData("PROXY TCP4 2001:db8::7 127.0.0.1 40001 443\r\n")]
    [InlineData("PROXY TCP6 203.0.113.7 ::1 40001 443\r\n")]
    [InlineData("PROXY TCP4 203.0.113.7 127.0.0.1 65536 443\r\n")]
    [InlineData("PROXY TCP4 203.0.113.7 127.0.0.1 -1 443\r\n")]
    [InlineData("PROXY UDP4 203.0.113.7 127.0.0.1 40001 443\r\n")]
    [InlineData("PROXY TCP4 not-an-address 127.0.0.1 40001 443\r\n")]
    public void A_malformed_v1_header_is_invalid(string line)
    {
        Assert.Equal(ProxyHeaderKind.Invalid, Parse(Encoding.ASCII.GetBytes(line)).Kind);
    }

    [Fact]
    public void A_v1_header_is_incomplete_until_its_line_ends_and_invalid_past_107_bytes()
    {
        Assert.Equal(ProxyHeaderKind.Incomplete, Parse("PRO"u8.ToArray()).Kind);
        Assert.Equal(ProxyHeaderKind.Incomplete, Parse("PROXY TCP4 203.0.113.7"u8.ToArray()).Kind);
        Assert.Equal(ProxyHeaderKind.Invalid, Parse(Encoding.ASCII.GetBytes("PROXY TCP4 " + new string('1', 100))).Kind);
    }

    [Theory]
    [InlineData("POST /git-annex/ HTTP/1.1\r\n")]
    [InlineData("PUT /git-annex/ HTTP/1.1\r\n")]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\n")]
    [InlineData("\r\nGET / HTTP/1.1\r\n")]
    public void Http_is_not_a_proxy_header(string request)
    {
        Assert.Equal(ProxyHeaderKind.None, Parse(Encoding.ASCII.GetBytes(request)).Kind);
    }

    [Fact]
    public void A_tls_client_hello_is_not_a_proxy_header()
    {
        Assert.Equal(ProxyHeaderKind.None, Parse([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03, 0, 0, 0, 0, 0]).Kind);
    }
}
