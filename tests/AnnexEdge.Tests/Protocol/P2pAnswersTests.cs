using System.Text;
using AnnexEdge.Protocol;

namespace AnnexEdge.Tests.Protocol;

public sealed class P2pAnswersTests
{
    private const string A = "11111111-1111-4111-8111-111111111111";
    private const string B = "22222222-2222-4222-8222-222222222222";

    private static string Text(byte[] json) => Encoding.UTF8.GetString(json);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Answers_of_v0_and_v1_carry_no_plusuuids(int version)
    {
        Assert.Equal("""{"stored":true}""", Text(P2pAnswers.Stored(true, [A, B], version)));
        Assert.Equal("""{"stored":false}""", Text(P2pAnswers.Stored(false, [], version)));
        Assert.Equal("""{"removed":true}""", Text(P2pAnswers.Removed(true, [A], version)));
        Assert.Equal("""{"removed":false}""", Text(P2pAnswers.Removed(false, [A], version)));
        Assert.Equal("""{"alreadyhave":true}""", Text(P2pAnswers.AlreadyHave([A, B], version)));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Answers_of_v2_and_later_carry_plusuuids_in_git_annex_key_order(int version)
    {
        Assert.Equal($$"""{"plusuuids":["{{A}}","{{B}}"],"stored":true}""", Text(P2pAnswers.Stored(true, [A, B], version)));
        Assert.Equal("""{"plusuuids":[],"stored":false}""", Text(P2pAnswers.Stored(false, [], version)));
        Assert.Equal($$"""{"plusuuids":["{{B}}"],"removed":false}""", Text(P2pAnswers.Removed(false, [B], version)));
        // git-annex (aeson) writes keys in alphabetical order: "alreadyhave" comes before "plusuuids".
        Assert.Equal($$"""{"alreadyhave":true,"plusuuids":["{{A}}","{{B}}"]}""",
            Text(P2pAnswers.AlreadyHave([A, B], version)));
    }

    [Fact]
    public void Plain_answers_have_the_shape_of_every_version()
    {
        Assert.Equal("""{"present":true}""", Text(P2pAnswers.Present(true)));
        Assert.Equal("""{"present":false}""", Text(P2pAnswers.Present(false)));
        Assert.Equal("""{"locked":false}""", Text(P2pAnswers.Locked(false)));
        Assert.Equal("""{"timestamp":1744800000}""", Text(P2pAnswers.Timestamp(1_744_800_000)));
        Assert.Equal("""{"offset":0}""", Text(P2pAnswers.Offset(0)));
        Assert.Equal("""{"offset":1048576}""", Text(P2pAnswers.Offset(1_048_576)));
    }

    [Fact]
    public void Answers_read_back_through_the_strict_node_reader()
    {
        var stored = P2pAnswer.Parse(P2pAnswers.Stored(true, [A, B], 4));

        Assert.NotNull(stored);
        Assert.True(stored.Bool("stored"));
        Assert.Equal([A, B], stored.PlusUuids());
        Assert.Equal(1_744_800_000, P2pAnswer.Parse(P2pAnswers.Timestamp(1_744_800_000))!.Number("timestamp"));
    }
}
