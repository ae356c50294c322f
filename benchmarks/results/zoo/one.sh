#!/bin/bash
# one.sh ALGO ID: train with rl-zoo3 exactly as a user would, time it, evaluate with rlzero
A=$1; ID=$2; D=/tmp/zoo/$A-$ID
cd /work/main
s=$(date +%s.%N)
OMP_NUM_THREADS=1 .venv/bin/python -m rl_zoo3.train --algo $A --env $ID --gym-packages rlzero -conf rlzero.zoo.$A --seed 0 --device cpu --eval-freq -1 -f $D > $D.log 2>&1
e=$(date +%s.%N)
CLS=$(echo $A | tr a-z A-Z)
OMP_NUM_THREADS=1 .venv/bin/python -c "
import json, rlzero, stable_baselines3 as sb3
r = rlzero.evaluate(sb3.$CLS.load('$D/$A/${ID}_1/$ID.zip'), '$ID')
print(json.dumps({'algo': '$A', 'id': '$ID', 'wall': $e - $s, **r.to_dict()}))
" >> /tmp/zoo/results.jsonl 2>> /tmp/zoo/eval.err
