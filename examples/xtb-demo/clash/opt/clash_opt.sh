#!/bin/bash
#SBATCH --job-name=clash_opt
#SBATCH --ntasks=1
#SBATCH --time=10
# xTB geometry optimisation; ccbatch judges clash_opt.out.
export OMP_NUM_THREADS=1
xtb start.xyz --opt > clash_opt.out 2>&1
