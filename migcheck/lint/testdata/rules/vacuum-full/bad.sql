-- want: vacuum-full
VACUUM FULL orders;
