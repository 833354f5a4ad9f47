# A perl program that allocates like a text-processing script: a big hash, string building, deletions.
my %h;
for my $i (1 .. 400000) { $h{"key$i"} = "v" x ($i % 97); }
delete $h{"key$_"} for grep { $_ % 3 } 1 .. 400000;
my @rows = map { [ $_, "x" x ($_ % 61), { id => $_ } ] } 1 .. 200000;
my $total = 0;
$total += length($_->[1]) for @rows;
print scalar(keys %h), " $total\n";
