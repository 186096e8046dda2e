using System.Net;
using System.Net.Sockets;

namespace AnnexEdge.Connections;

/// <summary>How per-address controls see a client's address.</summary>
internal static class ClientAddress
{
    /// <summary>
    /// The address a client is counted under: an IPv4 address (also when it reaches a dual-stack socket as
    /// <c>::ffff:a.b.c.d</c>) as it is, an IPv6 address by its /64, since one host is usually given a whole /64.
    /// </summary>
    public static IPAddress PartitionKey(IPAddress address)
    {
        address = Normalize(address);
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    /// <summary>An IPv4-mapped IPv6 address as the IPv4 address it is; any other address unchanged.</summary>
    public static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
