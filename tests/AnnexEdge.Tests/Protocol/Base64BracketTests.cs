using AnnexEdge.Protocol;

namespace AnnexEdge.Tests.Protocol;

/// <summary>The bracketed base64url convention of p2phttp (decoding cases checked against a real node).</summary>
public sealed class Base64BracketTests
{
    [Theory]
    [InlineData("[Zm9v]", "foo")]
    [InlineData("[W2Zvb10=]", "[foo]")]
    [InlineData("[Yw==]", "c")]
    [InlineData("[YWJjZA==]", "abcd")]
    [InlineData("[w7w=]", "ü")]
    [InlineData("[]", "")]
    public void Bracketed_value_is_decoded(string raw, string expected)
    {
        Assert.True(Base64Bracket.TryDecode(raw, out var value));
        Assert.Equal(expected, value);
    }

    [Fact]
    public void Url_safe_alphabet_is_decoded()
    {
        // 0xfb 0xff 0xbf is "-_-_" in base64url and "+/+/" in standard base64.
        Assert.True(Base64Bracket.TryDecode("[-_-_]", out _));
        Assert.True(Base64Bracket.TryDecode("[____]", out _));
        Assert.True(Base64Bracket.TryDecode("[Pz8_]", out var value));
        Assert.Equal("??" + "?", value);
    }

    [Theory]
    [InlineData("foo")]
    [InlineData("")]
    [InlineData("[")]
    [InlineData("]")]
    [InlineData("[x")]
    [InlineData("x]")]
    [InlineData(" [Zm9v]")]
    [InlineData("[Zm9v] ")]
    public void Value_not_wrapped_in_brackets_is_literal(string raw)
    {
        Assert.True(Base64Bracket.TryDecode(raw, out var value));
        Assert.Equal(raw, value);
    }

    [Theory]
    [InlineData("[Yw]")]
    [InlineData("[Yw=]")]
    [InlineData("[YWJjZA]")]
    [InlineData("[=]")]
    [InlineData("[====]")]
    [InlineData("[Y===]")]
    [InlineData("[AB=A]")]
    [InlineData("[!!!!]")]
    [InlineData("[abc]")]
    [InlineData("[[]]")]
    [InlineData("[+/+/]")]
    [InlineData("[////]")]
    [InlineData("[++++]")]
    [InlineData("[YW Jj]")]
    [InlineData("[YWJj    ]")]
    [InlineData("[YW\nJj   ]")]
    [InlineData("[Zm9v\t]")]
    public void Malformed_base64_is_refused(string raw)
    {
        Assert.False(Base64Bracket.TryDecode(raw, out var value));
        Assert.Equal("", value);
    }

    [Fact]
    public void Long_value_is_decoded()
    {
        var text = new string('x', 3000);
        Assert.True(Base64Bracket.TryDecode(Base64Bracket.Encode(text), out var value));
        Assert.Equal(text, value);
    }

    [Theory]
    [InlineData("foo", "[Zm9v]")]
    [InlineData("c", "[Yw==]")]
    [InlineData("ab", "[YWI=]")]
    [InlineData("[foo]", "[W2Zvb10=]")]
    [InlineData("", "[]")]
    [InlineData("??>", "[Pz8-]")]
    [InlineData("???", "[Pz8_]")]
    public void Encode_is_padded_base64url_in_brackets(string value, string expected)
    {
        Assert.Equal(expected, Base64Bracket.Encode(value));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a")]
    [InlineData("ab")]
    [InlineData("abc")]
    [InlineData("SHA256E-s6--x.txt")]
    [InlineData("ü/ä [x] ?&=+")]
    public void Encode_then_decode_gives_the_value_back(string value)
    {
        Assert.True(Base64Bracket.TryDecode(Base64Bracket.Encode(value), out var decoded));
        Assert.Equal(value, decoded);
    }
}
